/**
 * The one runner of the operations commands (`npm run preflight`, `status`, `discover`, `sync`,
 * `sandbox:up`, `sandbox:down`): argument parsing (node's `util.parseArgs`: options, and arguments
 * only for a command that declares {@link Command.positionals}), `--help`,
 * exit codes and how an error is printed, the same for every command.
 *
 * - `--help` / `-h` prints the command's usage on standard output and exits 0; nothing else runs.
 * - Exit codes: {@link EXIT}: 0 ok, 1 a finding (the command ran and found something to fix), 2 a
 *   usage or configuration error, or the command could not complete its work.
 * - A user error ({@link UsageError}, an invalid configuration) prints its message without a stack
 *   trace: a usage error is one line naming the option (never its value: a mistyped secret must not
 *   be printed) and how to get the usage; a configuration error names each field, what is allowed
 *   and what was given, one line per problem (lib/validation.ts). Any other error is one line too.
 * - The configuration is the file `MIRROR_CONFIG` names, else lib/stack-config.ts's DEFAULT_CONFIG
 *   ({@link configFile}).
 *
 * A command file declares its command with {@link command} and ends with
 * `if (require.main === module) main(theCommand);`.
 */
import * as path from "node:path";
import { exitAfterOutput } from "../../tools/run-main";
import { installNodeSupportNotice } from "./node-support";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { DEFAULT_CONFIG, configPath } from "../../lib/stack-config";
import { ConfigError } from "../../lib/validation";
import { oneLine, type Output, processOutput } from "./output";

/** The exit codes of every operations command. */
export const EXIT = { ok: 0, finding: 1, error: 2 } as const;

/**
 * An error the user made or can fix (a bad argument, a missing variable, a file that is not what the
 * command needs): printed as `error: MESSAGE`, no stack trace, exit 2.
 */
export class UserError extends Error {}

/** A usage error: printed on one line with the hint to `--help`, exit 2. */
export class UsageError extends UserError {}

type Options = NonNullable<ParseArgsConfig["options"]>;
const HELP = { help: { type: "boolean", short: "h" } } as const;
type Values<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O & typeof HELP; strict: true; allowPositionals: false }>>["values"];

/** What a command's `run` gets. */
export interface Context<O extends Options> {
  readonly values: Values<O>;
  /** The arguments that are not options; always empty unless the command declares `positionals`. */
  readonly positionals: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly output: Output;
}

export interface Command<O extends Options> {
  /** The npm script, e.g. `preflight` or `sandbox:up`: `npm run NAME`. */
  readonly name: string;
  /** The usage: a first line `usage: … npm run NAME …`, then what it does, its options and exit codes. */
  readonly usage: string;
  /** Its options (`--help` is added). */
  readonly options: O;
  /** It takes arguments besides its options (`npm run sync -- PROJECT/REPO …`); otherwise an argument is a usage error. */
  readonly positionals?: boolean;
  /** Values printed nowhere (the Backlog API key): every line is redacted of them. */
  readonly secrets?: (env: NodeJS.ProcessEnv) => readonly string[];
  /** Does the work; resolves with an exit code ({@link EXIT}). */
  readonly run: (context: Context<O>) => Promise<number>;
}

/** Declares a command (an identity function that keeps the options' types precise). */
export function command<const O extends Options>(spec: Command<O>): Command<O> {
  return spec;
}

/** The configuration file: `MIRROR_CONFIG`, else `fallback` (DEFAULT_CONFIG), relative to the working directory. */
export function configFile(env: NodeJS.ProcessEnv, fallback: string = DEFAULT_CONFIG): string {
  return configPath(env, path.resolve(fallback));
}

/** The hint a usage error ends with. */
export function helpHint(name: string): string {
  return `npm run ${name} -- --help prints the usage`;
}

/** Turns node's parseArgs errors into a {@link UsageError} that names the option but not the value given. */
function usageErrorOf(e: unknown): UsageError {
  const code = (e as { code?: string }).code;
  const name = /'(--?[A-Za-z][\w-]*)/.exec((e as Error).message)?.[1] ?? "";
  const what =
    code === "ERR_PARSE_ARGS_UNKNOWN_OPTION"
      ? `unknown option ${name}`
      : code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL"
        ? "unexpected argument: this command takes options only"
        : code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE"
          ? `option ${name} needs a value`
          : "bad arguments";
  return new UsageError(what.trim());
}

/** How an error is printed: its message (a configuration error keeps its lines), never a stack trace. */
export function errorLines(e: unknown, name: string): string {
  if (e instanceof UsageError) return `error: ${oneLine(e)} (${helpHint(name)})`;
  if (e instanceof ConfigError) return `error: ${e.message}`;
  return `error: ${oneLine(e)}`;
}

/** Runs `cmd` with `argv` (the arguments after the script); resolves with its exit code. */
export async function runCommand<O extends Options>(cmd: Command<O>, argv: readonly string[], env: NodeJS.ProcessEnv, output: Output): Promise<number> {
  try {
    let values: Values<O>;
    let positionals: readonly string[] = [];
    try {
      const parsed = parseArgs({ args: [...argv], strict: true, allowPositionals: cmd.positionals === true, options: { ...cmd.options, ...HELP } });
      values = parsed.values as Values<O>;
      positionals = parsed.positionals;
    } catch (e) {
      // --help wins over any other argument.
      if (argv.includes("--help") || argv.includes("-h")) values = { help: true } as unknown as Values<O>;
      else throw usageErrorOf(e);
    }
    if ((values as { help?: boolean }).help === true) {
      output.out(cmd.usage);
      return EXIT.ok;
    }
    return await cmd.run({ values, positionals, env, output });
  } catch (e) {
    output.err(errorLines(e, cmd.name));
    return EXIT.error;
  }
}

/** The entry of a command file: runs `cmd` on the process's arguments and exits with its code. */
export function main<O extends Options>(cmd: Command<O>, argv: readonly string[] = process.argv.slice(2)): void {
  // Before any AWS SDK client exists: the SDK's Node 20 warning becomes one line (node-support.ts).
  installNodeSupportNotice();
  const output = processOutput(cmd.secrets?.(process.env) ?? []);
  void runCommand(cmd, argv, process.env, output).then((code) => exitAfterOutput(code));
}
