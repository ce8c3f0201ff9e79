/**
 * npm run demo: the whole mirror flow once, narrated. Starts its own servers (sshd as the Backlog
 * stand-in, moto for StartBuild/SSM, the API Gateway stand-in), runs the synthesized buildspec, and
 * stops everything. Exits 0 when the CodeCommit stand-in carries exactly the source's heads and tags.
 */
import { Harness, refsDiff } from "../tools/e2e/harness";
import { runMain } from "../tools/run-main";

const KEY = "DEMO/web-app";
const step = (n: number, title: string): void => console.log(`\n[${n}/6] ${title}`);
const say = (text: string): void => console.log(`      ${text}`);

async function main(): Promise<number> {
  step(1, "Start the stand-ins and synthesize the stack for them");
  const h = await Harness.start({ hostKeys: "ssm", repositories: [{ projectKey: "DEMO", repository: "web-app", codecommitRepository: "demo-web-app" }] });
  try {
    say(`Backlog stand-in: sshd on 127.0.0.1:${h.ssh.port}, host key pinned through SSM (${h.ssh.hostKey.slice(0, 30)}...)`);
    say(`AWS emulator (moto): ${h.emulator.endpoint}; API Gateway stand-in: ${h.api.url}`);
    say(`synthesized: ${h.stack.file}`);

    step(2, "Push to Backlog");
    const src = h.source(KEY);
    for (let i = 1; i <= 3; i++) src.commit(`feature ${i}`, { [`src/feature-${i}.txt`]: `feature ${i}\n` });
    src.git("tag", "-a", "v1.0.0", "-m", "first release");
    src.git("branch", "develop");
    src.push("main", "develop", "v1.0.0");
    say(`pushed main, develop and tag v1.0.0 to ${KEY} (main = ${src.git("rev-parse", "--short", "main")})`);

    step(3, "Backlog calls the webhook");
    const res = await h.webhook(KEY);
    const call = h.api.calls.at(-1);
    say(`POST ${h.api.url}/${KEY} (application/x-www-form-urlencoded, payload=...) -> HTTP ${res.status} ${res.body}`);
    if (res.status !== 200 || call === undefined) throw new Error("the webhook did not start a build");

    step(4, "API Gateway's integration calls CodeBuild StartBuild");
    say(`${call.headers["X-Amz-Target"]} ${call.body} -> HTTP ${call.status} from the emulator`);

    step(5, "CodeBuild runs the synthesized buildspec (the sync)");
    const builds = await h.startNewBuilds();
    const result = await builds[0].done;
    for (const line of result.log.split("\n").filter((l) => l.startsWith("[mirror]") || l.includes("Phase complete"))) say(line);
    if (!result.succeeded) throw new Error(`the sync failed:\n${result.log}`);

    step(6, "Compare refs: Backlog (heads and tags) vs CodeCommit");
    const expected = src.mirroredRefs();
    const actual = h.codecommitRefs(KEY);
    for (const [ref, id] of expected) say(`${id === actual.get(ref) ? "same" : "DIFF"}  ${id.slice(0, 12)}  ${ref}`);
    const diff = refsDiff(expected, actual);
    if (diff !== "") {
      say(`MISMATCH:\n${diff}`);
      return 1;
    }
    say(`all ${expected.size} refs identical; the mirror works end to end`);
    return 0;
  } finally {
    await h.stop();
    console.log("\nstand-ins stopped, temporary files removed");
  }
}

runMain("demo", main);
