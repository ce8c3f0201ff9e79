/**
 * Node 20 without the AWS SDK's noise. On Node before 22, the SDK's first client of a process calls
 * `process.emitWarning("NodeVersionSupportWarning: ...")`, which Node prints as a 9-line warning on
 * standard error, in the middle of whatever line the command was writing (a step line of
 * `sandbox:up`). Node 20.19 still runs every command; what the SDK announces is that its releases
 * from January 2027 need Node 22. Each command (preflight, status, discover, sandbox) calls
 * {@link installNodeSupportNotice} first: the SDK's warning is replaced by one line, at most once
 * per command, pointing at the README's Node.js section, and written only where a line of standard
 * output has ended (held back until the current one ends). Child processes of the command inherit
 * `AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true` (the SDK's own switch) once the line was
 * shown, so they add none. A user who set that switch sees nothing, as the SDK intends.
 *
 * Self-contained: imported by each command, it touches nothing else of scripts/ops.
 */

/** The SDK's own switch (@aws-sdk/core: emitWarningIfUnsupportedVersion). */
export const SDK_SWITCH = "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED";
/** What the SDK's warning starts with. */
export const SDK_WARNING = "NodeVersionSupportWarning";
/** The README section that says which Node runs what. */
export const README_NODE_SECTION = "README.md#nodejs";

/** The one line said instead of the SDK's warning. */
export function nodeSupportLine(version: string): string {
  return `note: Node.js ${version} runs this command; the AWS SDK's releases from January 2027 need Node.js 22 or later (see ${README_NODE_SECTION})`;
}

/** The parts of `process` this uses (a test passes a stand-in). */
export interface NodeProcess {
  version: string;
  env: NodeJS.ProcessEnv;
  stdout: { write: (...args: any[]) => boolean };
  stderr: { write: (chunk: string) => boolean };
  emitWarning: (...args: any[]) => void;
  once: (event: "exit", listener: () => void) => unknown;
}

const installed = new WeakSet<object>();

/** Replaces the SDK's Node version warning by {@link nodeSupportLine}, once; other warnings pass unchanged. */
export function installNodeSupportNotice(proc: NodeProcess = process): void {
  if (installed.has(proc)) return;
  installed.add(proc);
  let atLineStart = true;
  let state: "unseen" | "held" | "shown" = "unseen";
  const show = (prefix = "") => {
    state = "shown";
    proc.stderr.write(`${prefix}${nodeSupportLine(proc.version)}\n`);
    proc.env[SDK_SWITCH] = "true";
  };

  const write = proc.stdout.write.bind(proc.stdout);
  proc.stdout.write = (...args: any[]): boolean => {
    const chunk: unknown = args[0];
    const text = typeof chunk === "string" ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString("utf8") : "";
    const written = write(...args);
    if (text.length > 0) atLineStart = text.endsWith("\n");
    if (state === "held" && atLineStart) show();
    return written;
  };

  const emitWarning = proc.emitWarning.bind(proc);
  proc.emitWarning = (...args: any[]): void => {
    const warning: unknown = args[0];
    const text = typeof warning === "string" ? warning : warning instanceof Error ? `${warning.name}: ${warning.message}` : "";
    if (!text.includes(SDK_WARNING)) return emitWarning(...args);
    if (state !== "unseen") return;
    if (atLineStart) show();
    else state = "held";
  };

  // a command that ends in the middle of a line still says it, on a line of its own
  proc.once("exit", () => {
    if (state === "held") show("\n");
  });
}
