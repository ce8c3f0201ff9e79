/**
 * `npm run sync`: starts the sync build of the named repositories now (CodeBuild StartBuild on each
 * repository's sync project, the `repositories` output's `build_project`), for a push whose webhook
 * did not arrive or a mirror to repair without waiting for the safety net.
 *
 *   [MIRROR_CONFIG=FILE] npm run sync -- PROJECT/REPO [PROJECT/REPO…] [--all] [--wait] [--json] [--outputs FILE | --stack-dir DIR]
 *
 * The names are checked against the configuration and the stack's outputs first: an unknown or
 * unapplied name is refused, by name, before any build starts. The stack's outputs are found as
 * `npm run status` finds them (scripts/ops/stack-outputs.ts). AWS is called with the operator's
 * credentials (the SDK's standard chain, in the configuration's region; `AWS_ENDPOINT_URL`,
 * `AWS_CA_BUNDLE` and the sandbox's CA honoured): `codebuild:StartBuild`, and with `--wait`
 * `codebuild:BatchGetBuilds`, on the sync projects (and, optionally, `logs:GetLogEvents` on their
 * log groups, for a failed build's own error line). What it does with CodeBuild is
 * scripts/ops/sync-builds.ts; arguments, `--help` and exit codes are the runner's
 * (scripts/ops/command.ts).
 */
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { CodeBuildClient } from "@aws-sdk/client-codebuild";
import { DEFAULT_CONFIG, loadStackConfig } from "../lib/stack-config";
import { wholeNumber } from "./ops/args";
import { command, configFile, EXIT, main, UsageError, UserError } from "./ops/command";
import { oneLine } from "./ops/output";
import { checkDefaultConfig, DEFAULT_STACK_DIR, readOutputsFile, stackDir, terraformOutputs } from "./ops/stack-outputs";
import { logErrorLine } from "./ops/build-logs";
import { columns, MAX_POLL_SECONDS, resolveNames, startBuilds, summaryLine, syncJson, WaitError, waitForBuilds } from "./ops/sync-builds";
import { sdkClientConfig } from "./sandbox-env";

/** The first pause between two polls of `--wait`, in seconds (default 5); 0 polls without pausing (the tests). */
export const POLL_ENV = "SYNC_POLL_SECONDS";

const USAGE = `usage: [MIRROR_CONFIG=FILE] npm run sync -- PROJECT/REPO [PROJECT/REPO…] [--all] [--wait] [--timeout MINUTES] [--json] [--outputs FILE|- | --stack-dir DIR]

Starts the sync build of each named repository of the configuration (MIRROR_CONFIG, default
${DEFAULT_CONFIG}) now and prints one line per repository: PROJECT/REPO  BUILD_ID. A name that is not
a repository of the configuration, or not in the stack's outputs yet, is refused before any build
starts. Runs with your AWS credentials: codebuild:StartBuild (and, with --wait,
codebuild:BatchGetBuilds) on the sync projects NAME-mirror-*; logs:GetLogEvents is optional.

  --all                start every repository of the configuration (no names then)
  --wait               wait until every build ended; print each one's status, and for a build that
                       did not succeed its last error line: the sync's last "[mirror] ERROR:" log line
                       (if logs:GetLogEvents is allowed), else the failed phase's message
  --timeout MINUTES    with --wait: give up after this long (default 60)
  --json               print the builds as JSON, every field (with --wait: once they ended)
  --outputs FILE|-     what \`terraform output -json\` printed for the stack (- reads standard input)
  --stack-dir DIR      run \`terraform output -json\` there instead (default ${DEFAULT_STACK_DIR},
                       or the sandbox's stack when AWS_ENDPOINT_URL is a running sandbox:up)

${POLL_ENV}=N sets the first pause between two polls of --wait (default 5 seconds, doubling up to ${MAX_POLL_SECONDS}).

exit codes: 0 every build started (with --wait: every build succeeded), 1 with --wait: some build did
not succeed, 2 a usage or configuration error, an unknown name (nothing started), a build CodeBuild
refused to start, or --wait gave up`;

function pollSeconds(env: NodeJS.ProcessEnv): number {
  const value = env[POLL_ENV];
  if (value === undefined || value === "") return 5;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 300) throw new UserError(`${POLL_ENV} must be a whole number of seconds from 0 to 300`);
  return n;
}

export const syncCommand = command({
  name: "sync",
  usage: USAGE,
  options: {
    all: { type: "boolean" },
    wait: { type: "boolean" },
    timeout: { type: "string" },
    json: { type: "boolean" },
    outputs: { type: "string" },
    "stack-dir": { type: "string" },
  },
  positionals: true,
  run: async ({ values, positionals, env, output }) => {
    const all = values.all === true;
    if (all && positionals.length > 0) throw new UsageError("give repository names or --all, not both");
    if (!all && positionals.length === 0) throw new UsageError("name the repositories to sync (PROJECT/REPO ...) or give --all");
    if (values.outputs !== undefined && values["stack-dir"] !== undefined) throw new UsageError("give --outputs or --stack-dir, not both");
    if (values.timeout !== undefined && values.wait !== true) throw new UsageError("--timeout is for --wait: give both, or neither");
    const timeoutMinutes = wholeNumber(values.timeout, "timeout", 60, 1, 2160);
    const firstPause = pollSeconds(env);
    const file = configFile(env);
    const config = loadStackConfig(file);

    // Every name is checked against the configuration before the outputs are read, and against
    // the outputs before anything starts.
    resolveNames(positionals, all, config, file, null);
    const outputs = values.outputs !== undefined ? readOutputsFile(values.outputs) : await terraformOutputs(stackDir(values["stack-dir"], env));
    checkDefaultConfig(env, file, config.repositories.map((r) => `${r.projectKey}/${r.repository}`), Object.keys(outputs));
    const targets = resolveNames(positionals, all, config, file, outputs);

    const { sandbox: _sandbox, ...clientConfig } = sdkClientConfig(config.region, env);
    const codebuild = new CodeBuildClient(clientConfig);
    const logs = new CloudWatchLogsClient(clientConfig);
    try {
      await codebuild.config.credentials();
    } catch (e) {
      output.err(`error: no AWS credentials (${oneLine(e)}): use the SDK's standard chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO, instance role)`);
      return EXIT.error;
    }

    const startedAt = new Date();
    let builds = await startBuilds(codebuild, targets);
    const started = builds.filter((b) => b.buildId !== null);
    for (const b of builds) if (b.buildId === null) output.err(`error: ${b.key}: ${b.error}`);
    if (values.json !== true) for (const line of columns(started.map((b) => [b.key, b.buildId as string]))) output.out(line);
    let code: number = builds.length === started.length ? EXIT.ok : EXIT.error;

    if (values.wait === true && started.length > 0) {
      output.err(`waiting for ${started.length} build${started.length === 1 ? "" : "s"}`);
      let timedOut: boolean;
      try {
        ({ builds, timedOut } = await waitForBuilds(codebuild, builds, {
          firstPauseSeconds: firstPause,
          timeoutSeconds: timeoutMinutes * 60,
          errorLine: (build) => logErrorLine(logs, build),
          onPoll: (running) => output.err(`still running: ${running.slice(0, 5).map((b) => b.key).join(", ")}${running.length > 5 ? ` and ${running.length - 5} more` : ""}`),
        }));
      } catch (e) {
        if (!(e instanceof WaitError)) throw e;
        output.err(`error: ${e.message}; the builds keep running (npm run status shows them)`);
        return EXIT.error;
      }
      const ended = builds.filter((b) => b.buildId !== null);
      if (values.json !== true) {
        for (const line of columns(ended.map((b) => [b.key, b.buildId as string, b.status, b.error ?? (b.status === "SUCCEEDED" || b.status === "IN_PROGRESS" ? "" : "(CodeBuild gave no error message: see the build's log)")]))) output.out(line);
        output.out(summaryLine(builds));
      }
      if (timedOut) {
        output.err(`error: gave up waiting after ${timeoutMinutes} minutes (--timeout); the builds still running keep running (npm run status shows them)`);
        code = EXIT.error;
      } else if (code === EXIT.ok && ended.some((b) => b.status !== "SUCCEEDED")) code = EXIT.finding;
    }
    if (values.json === true) output.out(JSON.stringify(syncJson(builds, startedAt, code), null, 2));
    return code;
  },
});

if (require.main === module) main(syncCommand);
