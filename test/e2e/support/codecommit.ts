/**
 * CodeCommit stand-in (CodeCommit's HTTPS endpoint cannot run here): one local bare repository per
 * CodeCommit repository name. The build reaches it through git's `url.<base>.insteadOf`, so the
 * synthesized `https://git-codecommit.REGION.amazonaws.com/v1/repos/NAME` stays unchanged and the
 * credential helper is never asked (file transport). Its pre-receive hook refuses refs outside
 * refs/heads/ and refs/tags/ as CodeCommit does in practice, records every push, and can hold a
 * push at a gate (to keep a sync running while the test acts).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { run } from "./proc";

const PRE_RECEIVE = `#!/bin/bash
# CodeCommit stand-in (e2e harness).
state="$GIT_DIR/e2e-state"
echo "push $$" >>"$state/pushes.log"
if [ -e "$state/push-gate" ]; then
  : >"$state/push-held"
  while [ -e "$state/push-gate" ]; do sleep 0.05; done
fi
while read -r _old _new ref; do
  case "$ref" in
    refs/heads/* | refs/tags/*) ;;
    *) echo "CodeCommit stand-in: $ref refused (only refs/heads/* and refs/tags/* are accepted)" >&2; exit 1 ;;
  esac
done
`;

export class CodeCommitStandIn {
  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true });
  }

  /** The url.<base>.insteadOf section that sends the CodeCommit HTTPS URLs of `region` here. */
  gitConfig(region: string): string {
    return `[url "file://${this.root}/"]\n\tinsteadOf = https://git-codecommit.${region}.amazonaws.com/v1/repos/\n`;
  }

  repoPath(name: string): string {
    return path.join(this.root, name);
  }

  create(name: string): void {
    const dir = this.repoPath(name);
    run("git", ["init", "--quiet", "--bare", dir]);
    mkdirSync(path.join(dir, "e2e-state"), { recursive: true });
    writeFileSync(path.join(dir, "hooks", "pre-receive"), PRE_RECEIVE, { mode: 0o755 });
  }

  /** Every ref of the repository: `refname → object id`. */
  refs(name: string): Map<string, string> {
    return forEachRef(this.repoPath(name));
  }

  /** How many pushes reached the repository (accepted or not). */
  pushCount(name: string): number {
    const log = path.join(this.repoPath(name), "e2e-state", "pushes.log");
    return existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean).length : 0;
  }

  holdPushes(name: string): void {
    const state = path.join(this.repoPath(name), "e2e-state");
    rmSync(path.join(state, "push-held"), { force: true });
    writeFileSync(path.join(state, "push-gate"), "");
  }

  isPushHeld(name: string): boolean {
    return existsSync(path.join(this.repoPath(name), "e2e-state", "push-held"));
  }

  releasePushes(name: string): void {
    const state = path.join(this.repoPath(name), "e2e-state");
    rmSync(path.join(state, "push-gate"), { force: true });
    rmSync(path.join(state, "push-held"), { force: true });
  }
}

/** `refname → object id` of a repository, optionally limited to ref prefixes. */
export function forEachRef(gitDir: string, ...prefixes: string[]): Map<string, string> {
  const out = run("git", ["--git-dir", gitDir, "for-each-ref", "--format=%(objectname) %(refname)", ...prefixes]).stdout;
  return new Map(
    out
      .split("\n")
      .filter(Boolean)
      .map((l) => {
        const [id, ref] = l.split(" ");
        return [ref, id] as [string, string];
      }),
  );
}
