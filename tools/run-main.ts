/**
 * The end of every script that drives the harness (`npm run demo`, `bench:*`): runs `main`, exits with
 * its code, and turns an error into one line naming the script and exit code 1.
 */
export function runMain(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (e: Error) => {
      console.error(`${name} failed: ${e.message}`);
      process.exit(1);
    },
  );
}
