/** The GitHub workflows: plan review on pull requests, the suites on pushes. */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

const ROOT = path.join(__dirname, "..");
type Step = { name?: string; uses?: string; run?: string; with?: Record<string, unknown>; "working-directory"?: string };
const workflow = (name: string): any => parse(readFileSync(path.join(ROOT, ".github", "workflows", name), "utf8"));
const scripts = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
const runs = (steps: Step[]): string => steps.map((s) => s.run ?? "").join("\n");

describe("plan workflow", () => {
  const wf = workflow("plan.yml");
  const job = wf.jobs.plan;
  const steps: Step[] = job.steps;

  test("runs on pull requests, never for forks, with an OIDC token and the right to comment", () => {
    expect(Object.keys(wf.on)).toEqual(["pull_request"]);
    expect(wf.permissions).toEqual({ contents: "read", "id-token": "write", "pull-requests": "write" });
    expect(job.if).toBe("github.event.pull_request.head.repo.full_name == github.repository");
  });

  test("installs, tests and synthesizes before it plans", () => {
    const order = ["npm ci", "npm test", "npm run synth", "terraform init", "terraform plan", "scripts/plan-summary.ts"];
    const text = runs(steps);
    const positions = order.map((o) => text.indexOf(o));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  test("assumes the role named by a repository variable through OIDC, with no stored keys", () => {
    const creds = steps.find((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"));
    expect(creds?.with?.["role-to-assume"]).toBe("${{ vars.AWS_PLAN_ROLE_ARN }}");
    expect(creds?.with?.["aws-region"]).toBe("${{ vars.AWS_REGION || 'ap-northeast-1' }}");
    expect(JSON.stringify(wf)).not.toMatch(/secrets\.AWS|aws-access-key-id|aws-secret-access-key/);
  });

  test("plans the synthesized stack directory and keeps the plan as JSON and text", () => {
    const plan = steps.find((s) => s.run?.includes("terraform plan"));
    expect(plan?.["working-directory"]).toBe("cdktf.out/stacks/${{ env.STACK }}");
    expect(wf.env.STACK).toBe("backlog-codecommit-mirror");
    expect(plan?.run).toContain("terraform show -json tfplan > plan.json");
    expect(plan?.run).toContain("terraform show -no-color tfplan > plan.txt");
  });

  test("publishes the summary as the job summary and as one updated PR comment", () => {
    const summary = steps.find((s) => s.run?.includes("plan-summary.ts"));
    expect(summary?.run).toContain('>> "$GITHUB_STEP_SUMMARY"');
    expect(existsSync(path.join(ROOT, "scripts", "plan-summary.ts"))).toBe(true);
    const comment = steps.find((s) => s.uses?.startsWith("actions/github-script@"));
    const script = String(comment?.with?.script);
    expect(script).toContain("updateComment");
    expect(script).toContain("createComment");
    expect(script).toContain('readFileSync("plan-summary.md"');
  });

  test("uses Terraform's plain output (no wrapper) for terraform show -json", () => {
    const setup = steps.find((s) => s.uses?.startsWith("hashicorp/setup-terraform@"));
    expect(setup?.with?.terraform_wrapper).toBe(false);
  });
});

describe("ci workflow", () => {
  const wf = workflow("ci.yml");
  const steps: Step[] = wf.jobs.test.steps;

  test("runs on pushes, read-only", () => {
    expect(Object.keys(wf.on)).toContain("push");
    expect(wf.permissions).toEqual({ contents: "read" });
  });

  test("runs the suites through .ci/run, with Terraform and moto installed", () => {
    expect(runs(steps)).toContain("bash .ci/run");
    expect(existsSync(path.join(ROOT, ".ci", "run"))).toBe(true);
    expect(steps.some((s) => s.uses?.startsWith("hashicorp/setup-terraform@"))).toBe(true);
    expect(runs(steps)).toContain('pip install "moto[server]==5.2.1"');
  });
});

test("every npm script a workflow calls exists", () => {
  for (const name of ["plan.yml", "ci.yml"]) {
    const text = readFileSync(path.join(ROOT, ".github", "workflows", name), "utf8");
    for (const m of text.matchAll(/npm run ([\w:-]+)/g)) expect(Object.keys(scripts)).toContain(m[1]);
  }
});
