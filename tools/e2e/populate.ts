/** Fills the Backlog stand-in's repositories of a harness quickly (the safety-net suite and its benchmark). */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import type { Harness, RepoSpec } from "./harness";

/** Gives every source repository a commit and a tag (one shell, fast) and, with `mirror`, copies them to CodeCommit. */
export function populate(h: Harness, repos: readonly RepoSpec[], mirror: boolean): void {
  const lines = ["set -e"];
  for (const r of repos) {
    const key = `${r.projectKey}/${r.repository}`;
    const src = h.source(key);
    const q = (s: string) => `'${s}'`;
    lines.push(
      `git -C ${q(src.work)} commit --quiet --allow-empty -m "first commit of ${key}"`,
      `git -C ${q(src.work)} tag -a -m v1 v1`,
      `git -C ${q(src.work)} push --quiet origin main v1`,
    );
    if (mirror) lines.push(`git -C ${q(src.work)} push --quiet ${q(h.codecommit.repoPath(h.codecommitName(key)))} main v1`);
  }
  const script = path.join(h.dir, "populate.sh");
  writeFileSync(script, lines.join("\n"));
  execFileSync("bash", [script], { stdio: ["ignore", "ignore", "inherit"] });
}
