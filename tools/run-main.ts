/**
 * How the product's scripts end: {@link runMain} for the ones that drive the harness (`npm run demo`,
 * `bench:*`), {@link exitAfterOutput} for those and the operations commands (scripts/ops/command.ts).
 */
export function runMain(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => exitAfterOutput(code),
    (e: Error) => {
      console.error(`${name} failed: ${e.message}`);
      exitAfterOutput(1);
    },
  );
}

/**
 * Exits once standard output and error have been handed to the OS: `process.exit` right after a
 * large write to a pipe drops what is still queued (seen on Node 22: `status --json` for 200
 * repositories cut at 146 KB). An empty write's callback runs after every earlier write.
 */
export function exitAfterOutput(code: number): void {
  let pending = 2;
  const done = (): void => {
    pending -= 1;
    if (pending === 0) process.exit(code);
  };
  process.stdout.write("", done);
  process.stderr.write("", done);
}

