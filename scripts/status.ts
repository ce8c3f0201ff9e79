/**
 * `npm run status`: for every repository of the configuration, Backlog's last push and webhook
 * URL, the last sync build, the CodeCommit default branch's head, and a verdict (current, behind,
 * failing, not wired; see scripts/ops/status.ts).
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
 */
import * as path from "node:path";
import { CodeBuildClient } from "@aws-sdk/client-codebuild";
import { CodeCommitClient } from "@aws-sdk/client-codecommit";
import { configPath, loadStackConfig } from "../lib/stack-config";
import { ConfigError } from "../lib/validation";
import { parseArgs } from "node:util";
import { apiKeyFrom, parsed, UsageError, wholeNumber } from "./ops/args";
import { readBuilds, readHeads } from "./ops/aws";
import { API_KEY_ENV, BASE_URL_ENV, type BacklogRepository, BacklogCallError, createBacklogClient } from "./ops/backlog";
import { oneLine, type Output, processOutput } from "./ops/output";
import { OutputsError, readOutputsFile, terraformOutputs } from "./ops/stack-outputs";
import { exitCode, judge, renderTable, toJson } from "./ops/status";
import { sdkClientConfig } from "./sandbox-env";
import { installNodeSupportNotice } from "./ops/node-support";

/** The stack's directory when neither --outputs nor --stack-dir is given. */
export const DEFAULT_STACK_DIR = "cdktf.out/stacks/backlog-codecommit-mirror";

const USAGE = `usage: MIRROR_CONFIG=FILE ${API_KEY_ENV}=... npm run status -- [--outputs FILE|- | --stack-dir DIR] [--json] [--grace-minutes N] [--max-wait SECONDS]`;

export async function status(argv: string[], env: NodeJS.ProcessEnv, output: Output, now = () => new Date()): Promise<number> {
  const { values } = parsed(
    () =>
      parseArgs({
        args: argv,
        strict: true,
        allowPositionals: false,
        options: {
      outputs: { type: "string" },
      "stack-dir": { type: "string" },
      json: { type: "boolean" },
      "grace-minutes": { type: "string" },
      "max-wait": { type: "string" },
      help: { type: "boolean", short: "h" },
        },
      }),
    USAGE,
  );
  if (values.help === true) {
    output.out(USAGE);
    return 0;
  }
  if (values.outputs !== undefined && values["stack-dir"] !== undefined) throw new UsageError(`give --outputs or --stack-dir, not both\n${USAGE}`);
  const graceMinutes = wholeNumber(values["grace-minutes"], "grace-minutes", 15, 0, 10_080);
  const maxWait = wholeNumber(values["max-wait"], "max-wait", 60, 0, 900);
  const apiKey = apiKeyFrom(env, API_KEY_ENV);
  const config = loadStackConfig(configPath(env));

  const outputs = values.outputs !== undefined ? readOutputsFile(values.outputs) : await terraformOutputs(path.resolve(values["stack-dir"] ?? DEFAULT_STACK_DIR));
  const configured = config.repositories.map((r) => `${r.projectKey}/${r.repository}`);
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
  await backlog.checkSpace();
  const listed = new Map<string, Map<string, BacklogRepository> | { error: string }>();
  for (const projectKey of new Set(config.repositories.map((r) => r.projectKey))) {
    try {
      listed.set(projectKey, new Map((await backlog.listRepositories(projectKey)).map((r) => [r.name, r])));
    } catch (e) {
      if (!(e instanceof BacklogCallError) || e.kind === "auth") throw e;
      listed.set(projectKey, { error: e.message });
    }
  }

  // The SDK's own credential chain and AWS_ENDPOINT_URL, plus AWS_CA_BUNDLE and the sandbox's CA
  // (npm run sandbox:up), as npm run preflight reads them.
  const { sandbox: _sandbox, ...clientConfig } = sdkClientConfig(config.region, env);
  const codebuild = new CodeBuildClient(clientConfig);
  const codecommit = new CodeCommitClient(clientConfig);
  try {
    await codebuild.config.credentials();
  } catch (e) {
    output.err(`error: no AWS credentials (${oneLine(e)}): use the SDK's standard chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO, instance role)`);
    return 2;
  }
  const deployed = config.repositories.map((r) => outputs[`${r.projectKey}/${r.repository}`]).filter((o) => o !== undefined);
  const [builds, heads] = await Promise.all([
    readBuilds(codebuild, [...new Set(deployed.map((o) => o.build_project))]),
    readHeads(codecommit, [...new Set(deployed.map((o) => o.codecommit_repository))]),
  ]);

  const at = now();
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
      now: at,
      graceMinutes,
    });
  });
  if (values.json === true) output.out(JSON.stringify(toJson(statuses, at), null, 2));
  else for (const line of renderTable(statuses)) output.out(line);
  return exitCode(statuses);
}

if (require.main === module) {
  installNodeSupportNotice();
  const output = processOutput([process.env[API_KEY_ENV] ?? ""]);
  status(process.argv.slice(2), process.env, output).then(
    (code) => process.exit(code),
    (e: unknown) => {
      if (e instanceof UsageError || e instanceof ConfigError || e instanceof OutputsError || e instanceof BacklogCallError) {
        output.err(`error: ${e.message}`);
      } else {
        output.err(`error: ${oneLine(e)}`);
      }
      process.exit(2);
    },
  );
}
