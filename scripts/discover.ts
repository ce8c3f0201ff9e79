/**
 * `npm run discover`: lists the Git repositories of Backlog projects and prints the `repositories`
 * entries the configuration lacks; `--write` appends them to the configuration file.
 *
 *   MIRROR_CONFIG=FILE BACKLOG_API_KEY=... npm run discover -- --project KEY [--project KEY...] [--write]
 *
 * The API key is read from BACKLOG_API_KEY only (never a flag, never printed, never written).
 * The space and domain come from the configuration; BACKLOG_API_BASE_URL points at another API
 * base (a local stand-in). Exit codes: 0 done; 1 usage or configuration problem; 2 Backlog could
 * not be read for some project (then nothing is written).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { configPath, loadStackConfig } from "../lib/stack-config";
import { ConfigError, validateStackConfig } from "../lib/validation";
import { parseArgs } from "node:util";
import { apiKeyFrom, parsed, UsageError, wholeNumber } from "./ops/args";
import { API_KEY_ENV, BASE_URL_ENV, BacklogCallError, createBacklogClient } from "./ops/backlog";
import { appendRepositories, replaceFile } from "./ops/config-file";
import { type ListedProject, planDiscovery } from "./ops/discover";
import { oneLine, type Output, processOutput } from "./ops/output";
import { installNodeSupportNotice } from "./ops/node-support";

const USAGE = `usage: MIRROR_CONFIG=FILE ${API_KEY_ENV}=... npm run discover -- --project KEY [--project KEY...] [--write] [--max-wait SECONDS]`;

export async function discover(argv: string[], env: NodeJS.ProcessEnv, output: Output): Promise<number> {
  const { values } = parsed(
    () =>
      parseArgs({
        args: argv,
        strict: true,
        allowPositionals: false,
        options: {
      project: { type: "string", multiple: true },
      write: { type: "boolean" },
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
  const projects = [...new Set(values.project ?? [])];
  if (projects.length === 0) throw new UsageError(`name at least one --project\n${USAGE}`);
  const maxWait = wholeNumber(values["max-wait"], "max-wait", 60, 0, 900);
  const apiKey = apiKeyFrom(env, API_KEY_ENV);

  const file = configPath(env);
  const config = loadStackConfig(file);
  const backlog = createBacklogClient({
    spaceKey: config.backlog.spaceKey,
    domain: config.backlog.domain,
    apiKey,
    baseUrl: env[BASE_URL_ENV] || undefined,
    maxRateLimitWaitSeconds: maxWait,
    notice: (line) => output.err(line),
  });

  try {
    await backlog.checkSpace();
  } catch (e) {
    if (e instanceof BacklogCallError) {
      output.err(`error: ${e.message}`);
      return 2;
    }
    throw e;
  }

  const listed: ListedProject[] = [];
  const errors: string[] = [];
  output.out(`Backlog space ${config.backlog.spaceKey} (${backlog.where}):`);
  for (const projectKey of projects) {
    try {
      const repositories = (await backlog.listRepositories(projectKey)).map((r) => r.name);
      listed.push({ projectKey, repositories });
      output.out(`  ${projectKey}: ${repositories.length} Git repositor${repositories.length === 1 ? "y" : "ies"}`);
    } catch (e) {
      if (!(e instanceof BacklogCallError)) throw e;
      errors.push(e.message);
      output.out(`  ${projectKey}: not listed (error below)`);
    }
  }

  const plan = planDiscovery(config, listed);
  output.out();
  output.out(`Already configured (${plan.configured.length})${plan.configured.length > 0 ? `: ${plan.configured.join(", ")}` : ""}`);
  const shown = path.relative(process.cwd(), file).startsWith("..") ? file : path.relative(process.cwd(), file);
  output.out(`Missing from ${shown} (${plan.added.length})${plan.added.length > 0 ? ":" : ""}`);
  plan.added.forEach((entry, i) => output.out(`    ${JSON.stringify(entry).replace(/":/g, '": ').replace(/,"/g, ', "').replace(/^\{/, "{ ").replace(/\}$/, " }")}${i < plan.added.length - 1 ? "," : ""}`));
  if (plan.refused.length > 0) {
    output.out(`Refused by the configuration rules, not added (${plan.refused.length}):`);
    for (const r of plan.refused) {
      output.out(`  ${r.projectKey}/${r.repository}`);
      for (const reason of r.reasons) output.out(`    - ${reason}`);
    }
  }
  for (const line of errors) output.err(`error: ${line}`);

  if (values.write !== true) {
    if (plan.added.length > 0 && errors.length === 0) output.out(`Run again with --write to append them to ${file}.`);
    return errors.length > 0 ? 2 : 0;
  }
  if (errors.length > 0) {
    output.err(`nothing written: ${errors.length} project(s) could not be listed`);
    return 2;
  }
  if (plan.added.length === 0) {
    output.out("Nothing to write.");
    return 0;
  }
  const text = appendRepositories(readFileSync(file, "utf8"), plan.added);
  validateStackConfig(JSON.parse(text), `configuration file ${file} after the merge`);
  replaceFile(file, text);
  output.out(`Wrote ${plan.added.length} entr${plan.added.length === 1 ? "y" : "ies"} to ${file} (now ${config.repositories.length + plan.added.length} repositories).`);
  output.out("Next: review the diff, synthesize, plan and apply, then set each new webhook URL in Backlog (npm run status shows which are missing).");
  return 0;
}

if (require.main === module) {
  installNodeSupportNotice();
  const output = processOutput([process.env[API_KEY_ENV] ?? ""]);
  discover(process.argv.slice(2), process.env, output).then(
    (code) => process.exit(code),
    (e: unknown) => {
      if (e instanceof UsageError || e instanceof ConfigError || e instanceof BacklogCallError) {
        output.err(`error: ${e.message}`);
        process.exit(1);
      }
      output.err(`error: ${oneLine(e)}`);
      process.exit(2);
    },
  );
}
