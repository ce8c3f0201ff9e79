/**
 * npm run bench:safety-net: one scheduled run of the safety net (`NAME-verify`) over 200 unchanged
 * repositories in the end-to-end harness (real bash, git, sshd, AWS CLI against the emulator),
 * projected to CodeBuild build-minutes. Prints the figures and the budget (5 build-minutes per run,
 * docs/safety-net.md "The safety net and what it costs"); a benchmark, not a test: it exits 1 only when the run
 * itself fails, never on a figure.
 *
 * What the harness cannot run is measured apart or assumed, and printed as such:
 * - measured: the CodeCommit credential helper, asked once per repository (the harness reaches its
 *   CodeCommit stand-in through insteadOf, without credentials), with this machine's AWS CLI,
 *   PARALLEL_CHECKS (8) at a time;
 * - assumed: 120 s for provisioning a VPC-attached container (ENI attachment included, no source,
 *   finalizing; lib/mirror-build.ts PRE_SCRIPT_BUDGET_SECONDS), and network round trips to Backlog
 *   and CodeCommit of 0.3 s per repository per side, 8 at a time.
 * Billing is per build minute, rounded up (CodeBuild pricing), from the start of PROVISIONING (the
 * conservative reading of "billed for the build's duration").
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { EMULATOR_ENV } from "../tools/emulator/moto";
import { Harness, type RepoSpec } from "../tools/e2e/harness";
import { populate } from "../tools/e2e/populate";
import { runMain } from "../tools/run-main";

const N = 200;
const BUDGET_BUILD_MINUTES = 5;
const PROVISIONING_SECONDS = 120;
const ROUND_TRIP_SECONDS = 0.3;
const PARALLEL = 8;

async function main(): Promise<number> {
  const repos: RepoSpec[] = Array.from({ length: N }, (_, i) => ({ projectKey: `P${i % 40}`, repository: `repo-${i}` }));
  const h = await Harness.start({ repositories: repos, hostKeys: "config" });
  try {
    populate(h, repos, true);
    const { result, started } = await h.runBuildWithStarted(h.verifyProject());
    const summary = `[verify] ${N} repositories: ${N} in sync, 0 differ`;
    if (!result.succeeded || !result.log.includes(summary) || started.length > 0) {
      console.error(result.log.slice(-6000));
      throw new Error(`the verify run did not find ${N} repositories in sync`);
    }

    const helperDir = path.join(h.dir, "helper");
    mkdirSync(helperDir);
    const helper = path.join(helperDir, "helper.sh");
    writeFileSync(
      helper,
      `printf 'protocol=https\\nhost=git-codecommit.${EMULATOR_ENV.AWS_REGION}.amazonaws.com\\npath=v1/repos/repo-$1\\n\\n' | aws codecommit credential-helper get >/dev/null\n`,
    );
    const t0 = process.hrtime.bigint();
    execFileSync("bash", ["-c", `seq ${N} | xargs -P ${PARALLEL} -n 1 bash ${helper}`], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "example", AWS_DEFAULT_REGION: EMULATOR_ENV.AWS_REGION },
    });
    const helperSeconds = Number(process.hrtime.bigint() - t0) / 1e9;

    const networkSeconds = (N * 2 * ROUND_TRIP_SECONDS) / PARALLEL;
    const projected = result.seconds + helperSeconds + networkSeconds + PROVISIONING_SECONDS;
    const buildMinutes = Math.ceil(projected / 60);
    console.log(
      `safety net, ${N} unchanged repositories: verify build ${result.seconds.toFixed(1)} s in the harness; ` +
        `credential helper ${helperSeconds.toFixed(1)} s (${N} calls, ${PARALLEL} at a time); assumed network ${networkSeconds.toFixed(1)} s ` +
        `and provisioning ${PROVISIONING_SECONDS} s; projected ${projected.toFixed(0)} s = ${buildMinutes} build-minute(s) per run ` +
        `(budget ${BUDGET_BUILD_MINUTES}: ${buildMinutes <= BUDGET_BUILD_MINUTES ? "within" : "OVER"})`,
    );
    console.log(JSON.stringify({ bench: "safety-net", repositories: N, verifySeconds: result.seconds, helperSeconds, networkSeconds, provisioningSeconds: PROVISIONING_SECONDS, projected, buildMinutes, budget: BUDGET_BUILD_MINUTES }));
    return 0;
  } finally {
    await h.stop();
  }
}

runMain("bench-safety-net", main);
