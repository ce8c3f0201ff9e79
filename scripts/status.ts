/**
 * `npm run status`: for every repository of the configuration, Backlog's last push and webhook
 * URL, the last sync build (its phases, and its error line from the log when it failed), the lag
 * from push to mirror, the CodeCommit default branch's head, Git LFS objects the last sync did not
 * mirror, and a verdict (current, behind, failing, not wired, unknown; see scripts/ops/verdicts.ts).
 *
 *   MIRROR_CONFIG=FILE BACKLOG_API_KEY=... npm run status -- [--outputs FILE | --stack-dir DIR] [--json] [--grace-minutes N]
 *
 * The stack's outputs come from `terraform output -json`: `--outputs FILE` reads what it printed
 * (`-` = standard input), otherwise it is run in `--stack-dir` (default
 * cdktf.out/stacks/backlog-codecommit-mirror, initialised). AWS is read with the SDK's standard
 * credential chain, in the configuration's region; `AWS_ENDPOINT_URL` and `AWS_CA_BUNDLE` are
 * honoured (and the sandbox's CA, as npm run preflight does). Exit codes: 0
 * every repository current (hence wired); 1 some repository is not; 2 the check could not be
 * completed (Backlog, AWS or the outputs could not be read; usage or configuration problem).
 * Arguments, `--help` and exit codes are the runner's (scripts/ops/command.ts); the verdicts are
 * scripts/ops/verdicts.ts.
 */
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { CodeBuildClient } from "@aws-sdk/client-codebuild";
import { CodeCommitClient } from "@aws-sdk/client-codecommit";
import { DEFAULT_CONFIG, loadStackConfig } from "../lib/stack-config";
import { apiKeyFrom, wholeNumber } from "./ops/args";
import { readBuildLogs, readBuilds, readHeads } from "./ops/aws";
import { API_KEY_ENV, BASE_URL_ENV, type BacklogRepository, BacklogCallError, createBacklogClient } from "./ops/backlog";
import { command, configFile, EXIT, main, UsageError } from "./ops/command";
import { oneLine } from "./ops/output";
import { checkDefaultConfig, DEFAULT_STACK_DIR, readOutputsFile, stackDir, terraformOutputs } from "./ops/stack-outputs";
import { exitCode, judge, notableBuilds, renderTable, toJson } from "./ops/verdicts";
import { sdkClientConfig } from "./sandbox-env";


const USAGE = `usage: [MIRROR_CONFIG=FILE] ${API_KEY_ENV}=... npm run status -- [--outputs FILE|- | --stack-dir DIR] [--json] [--grace-minutes N] [--max-wait SECONDS]

For every repository of the configuration (MIRROR_CONFIG, default ${DEFAULT_CONFIG}): Backlog's
last push and webhook URL, the last sync build (queued, provisioning and build seconds; its error
line when it failed), the lag from push to mirror (median and maximum below the table), the
CodeCommit default branch's head, Git LFS objects not mirrored, and a verdict (current, behind,
failing, not wired, unknown).

  --outputs FILE|-     what \`terraform output -json\` printed for the stack (- reads standard input)
  --stack-dir DIR      run \`terraform output -json\` there instead (default ${DEFAULT_STACK_DIR},
                       or the sandbox's stack when AWS_ENDPOINT_URL is a running sandbox:up);
                       a root module that calls the HCL module will do (its outputs under any name)
  --json               print the verdicts as JSON, every field
  --grace-minutes N    a push younger than N minutes is not "behind" yet (default 15)
  --max-wait SECONDS   wait at most this long for Backlog's rate limit to reset (default 60)

exit codes: 0 every repository current, 1 some repository is not, 2 a usage or configuration error,
or the check could not be completed (Backlog, AWS or the outputs could not be read)`;

export const statusCommand = command({
  name: "status",
  usage: USAGE,
  options: {
    outputs: { type: "string" },
    "stack-dir": { type: "string" },
    json: { type: "boolean" },
    "grace-minutes": { type: "string" },
    "max-wait": { type: "string" },
  },
  secrets: (env) => [env[API_KEY_ENV] ?? ""],
  run: async ({ values, env, output }) => {
    if (values.outputs !== undefined && values["stack-dir"] !== undefined) throw new UsageError("give --outputs or --stack-dir, not both");
    const graceMinutes = wholeNumber(values["grace-minutes"], "grace-minutes", 15, 0, 10_080);
    const maxWait = wholeNumber(values["max-wait"], "max-wait", 60, 0, 900);
    const apiKey = apiKeyFrom(env, API_KEY_ENV);
    const file = configFile(env);
    const config = loadStackConfig(file);

    const outputs = values.outputs !== undefined ? readOutputsFile(values.outputs) : await terraformOutputs(stackDir(values["stack-dir"], env));
    const configured = config.repositories.map((r) => `${r.projectKey}/${r.repository}`);
    checkDefaultConfig(env, file, configured, Object.keys(outputs));
    const extra = Object.keys(outputs).filter((k) => !configured.includes(k));
    if (extra.length > 0) output.err(`note: the stack's outputs also list ${extra.join(", ")}, which the configuration no longer has (apply to remove them)`);

    const backlog = createBacklogClient({
      spaceKey: config.backlog.spaceKey,
      domain: config.backlog.domain,
      apiKey,
      baseUrl: env[BASE_URL_ENV] || undefined,
      maxRateLimitWaitSeconds: maxWait,
      notice: (line) => output.err(line),
    });
    // Backlog out of reach (or refusing the key) leaves the AWS half to show: every repository's
    // Backlog half is unknown, said once here.
    const listed = new Map<string, Map<string, BacklogRepository> | { error: string }>();
    let unreachable: string | null = null;
    try {
      await backlog.checkSpace();
    } catch (e) {
      if (!(e instanceof BacklogCallError)) throw e;
      unreachable = e.message;
      output.err(`warning: ${e.message}; the Backlog half of every repository is unknown`);
    }
    for (const projectKey of new Set(config.repositories.map((r) => r.projectKey))) {
      if (unreachable !== null) {
        listed.set(projectKey, { error: "Backlog could not be read (see the warning above)" });
        continue;
      }
      try {
        listed.set(projectKey, new Map((await backlog.listRepositories(projectKey)).map((r) => [r.name, r])));
      } catch (e) {
        if (!(e instanceof BacklogCallError)) throw e;
        listed.set(projectKey, { error: e.message });
      }
    }

    // The SDK's own credential chain and AWS_ENDPOINT_URL, plus AWS_CA_BUNDLE and the sandbox's CA
    // (npm run sandbox:up), as npm run preflight reads them.
    const { sandbox: _sandbox, ...clientConfig } = sdkClientConfig(config.region, env);
    const codebuild = new CodeBuildClient(clientConfig);
    const codecommit = new CodeCommitClient(clientConfig);
    const logs = new CloudWatchLogsClient(clientConfig);
    try {
      await codebuild.config.credentials();
    } catch (e) {
      output.err(`error: no AWS credentials (${oneLine(e)}): use the SDK's standard chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO, instance role)`);
      return EXIT.error;
    }
    const deployed = config.repositories.map((r) => outputs[`${r.projectKey}/${r.repository}`]).filter((o) => o !== undefined);
    const [builds, heads] = await Promise.all([
      readBuilds(codebuild, [...new Set(deployed.map((o) => o.build_project))]),
      readHeads(codecommit, [...new Set(deployed.map((o) => o.codecommit_repository))]),
    ]);
    // The tail of the last successful build's log (its Git LFS warning) and of a failed last
    // build's (its error line): scripts/ops/aws.ts, readBuildLogs.
    const logEntries = new Map(
      deployed.flatMap((o) => {
        const b = builds.get(o.build_project);
        return b === undefined || !("builds" in b) ? [] : [[o.build_project, notableBuilds(b.builds)] as const];
      }),
    );
    const findings = await readBuildLogs(logs, logEntries);

    const at = new Date();
    const statuses = config.repositories.map((r) => {
      const key = `${r.projectKey}/${r.repository}`;
      const out = outputs[key];
      const project = listed.get(r.projectKey);
      return judge({
        key,
        output: out,
        backlog: project === undefined ? { error: "not read" } : "error" in project ? { error: project.error as string } : (project.get(r.repository) ?? null),
        builds: out !== undefined ? builds.get(out.build_project) : undefined,
        head: out !== undefined ? heads.get(out.codecommit_repository) : undefined,
        logs: out !== undefined ? findings.get(out.build_project) : undefined,
        now: at,
        graceMinutes,
      });
    });
    if (values.json === true) output.out(JSON.stringify(toJson(statuses, at), null, 2));
    else for (const line of renderTable(statuses)) output.out(line);
    return exitCode(statuses);
  },
});

if (require.main === module) main(statusCommand);
