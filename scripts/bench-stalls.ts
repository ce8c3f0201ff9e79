/**
 * npm run bench:stalls: how long a sync takes to give up on a stalled transfer, in the end-to-end
 * harness, against the budgets the design derives (printed; a benchmark, not a test: it exits 1 only
 * when a scenario does not end the way the e2e suite asserts, never on a figure):
 * - a push to CodeCommit that stalls mid-receive: git's low-speed limit (under 1,000 bytes/s for
 *   60 s, lib/buildspec/mirror-sync.sh) plus the fetch; budget 60-90 s, inside the bound the lock
 *   timeout was derived with (lib/mirror-build.ts) and far below the 5-minute build timeout;
 * - a fetch from Backlog whose server stops answering: ssh's keepalives (10 s x 3,
 *   lib/buildspec/backlog-ssh.sh) plus the fetch up to the stall; budget under 60 s.
 * The suites (test/e2e/sync-bounds.e2e.test.ts, sync-loop.e2e.test.ts) assert the behaviour: the one
 * line each ends with, the lock released, nothing pushed.
 */
import { randomBytes } from "node:crypto";
import { Harness } from "../tools/e2e/harness";
import { waitFor } from "../tools/e2e/proc";
import { runMain } from "../tools/run-main";

const blobs = (n: number): Record<string, Buffer> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`blob-${i}.bin`, randomBytes(64 * 1024)]));

async function main(): Promise<number> {
  const h = await Harness.start({ hostKeys: "config", repositories: [{ projectKey: "BENCH", repository: "push" }, { projectKey: "BENCH", repository: "fetch" }] });
  try {
    for (const key of ["BENCH/push", "BENCH/fetch"]) await h.seed(key, 2);
    const figures: Array<{ scenario: string; seconds: number; min: number; max: number }> = [];

    const push = h.source("BENCH/push");
    push.commit("a push to stall", blobs(10));
    push.push("main");
    h.codecommit.stallPushes("push", 64 * 1024);
    await h.webhook("BENCH/push");
    const [stalledPush] = await h.startNewBuilds();
    await waitFor("the push to stall mid-receive", () => h.codecommit.isPushStalled("push"), 60_000);
    h.codecommit.releasePushStall("push");
    const p = await stalledPush.done;
    if (p.succeeded || !p.log.includes("stalled: under 1000 bytes/s for 60s")) throw new Error(`the stalled push did not end with its line:\n${p.log.slice(-3000)}`);
    figures.push({ scenario: "push to CodeCommit stalled mid-receive", seconds: p.seconds, min: 60, max: 90 });

    const fetch = h.source("BENCH/fetch");
    fetch.commit("a transfer to stall", blobs(40));
    fetch.push("main");
    h.ssh.stallAfter(64 * 1024, true);
    let f;
    try {
      await h.webhook("BENCH/fetch");
      const [stalledFetch] = await h.startNewBuilds();
      await waitFor("the transfer to stall", () => h.ssh.isStalled(), 30_000);
      f = await stalledFetch.done;
    } finally {
      h.ssh.releaseStall();
    }
    if (f.succeeded || !f.log.includes("the server stopped answering for 30s")) throw new Error(`the stalled fetch did not end with its line:\n${f.log.slice(-3000)}`);
    figures.push({ scenario: "fetch from Backlog, server stopped answering", seconds: f.seconds, min: 0, max: 60 });

    for (const x of figures) {
      const within = x.seconds >= x.min && x.seconds < x.max;
      console.log(`${x.scenario}: the build ended after ${x.seconds.toFixed(1)} s (budget ${x.min > 0 ? `${x.min}-` : "under "}${x.max} s: ${within ? "within" : "OUTSIDE"})`);
    }
    console.log(JSON.stringify({ bench: "stalls", figures }));
    return 0;
  } finally {
    await h.stop();
  }
}

runMain("bench-stalls", main);
