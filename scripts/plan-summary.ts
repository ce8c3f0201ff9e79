/**
 * Turns `terraform show -json PLANFILE` into the Markdown the plan workflow publishes as the job
 * summary and as a pull-request comment: the counts Terraform prints ("N to add, N to change, N to
 * destroy"), one row per changed resource (replacements and deletions first), output changes, drift
 * found while refreshing, and the full plan text (`terraform show -no-color PLANFILE`) collapsed.
 *
 * Usage (arguments, `--help` and exit codes are the runner's, scripts/ops/command.ts):
 *   node --import tsx scripts/plan-summary.ts --json plan.json [--text plan.txt] [--title NAME] [--max-chars N]
 *   (--json takes `terraform show -json PLANFILE`, not the binary plan file itself; the title defaults
 *   to the name of the directory holding plan.json, i.e. the stack's name in cdktf.out/stacks/NAME/)
 *
 * The Markdown starts with a hidden marker (`<!-- plan-summary:TITLE -->`) so that the workflow can
 * update its earlier comment instead of adding one per push. GitHub refuses comments over 65,536
 * characters: the full plan text is cut first, then the resource table, to stay under --max-chars.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { command, EXIT, main, UsageError, UserError } from "./ops/command";

/** The parts of Terraform's JSON plan format (format_version 1.x) that the summary reads. */
export interface PlanJson {
  readonly format_version: string;
  readonly terraform_version?: string;
  readonly resource_changes?: ReadonlyArray<ResourceChange>;
  readonly resource_drift?: ReadonlyArray<ResourceChange>;
  readonly output_changes?: Readonly<Record<string, { readonly actions: readonly string[] }>>;
  readonly errored?: boolean;
}

export interface ResourceChange {
  readonly address: string;
  readonly mode: "managed" | "data";
  readonly type: string;
  readonly action_reason?: string;
  readonly change: {
    readonly actions: readonly string[];
    readonly importing?: unknown;
    readonly replace_paths?: ReadonlyArray<ReadonlyArray<string | number>>;
  };
}

/** What happens to one resource, in words. */
export type ChangeKind = "create" | "update" | "delete" | "replace" | "import" | "forget" | "read" | "no-op";

export interface ChangeRow {
  readonly address: string;
  readonly kind: ChangeKind;
  /** For replacements: the attributes that force it, and `create_before_destroy` order. */
  readonly detail?: string;
}

export interface PlanSummary {
  readonly add: number;
  readonly change: number;
  readonly destroy: number;
  readonly replace: number;
  readonly import: number;
  readonly forget: number;
  /** Changed managed resources, riskiest first. */
  readonly rows: readonly ChangeRow[];
  /** Outputs that change, by name. */
  readonly outputs: ReadonlyArray<{ readonly name: string; readonly kind: ChangeKind }>;
  /** Resources that changed outside Terraform since the last apply. */
  readonly drift: readonly string[];
  readonly errored: boolean;
}

/** The kind of change a Terraform action list means. */
export function changeKind(actions: readonly string[], importing = false): ChangeKind {
  const key = actions.join(",");
  switch (key) {
    case "create":
      return "create";
    case "update":
      return "update";
    case "delete":
      return "delete";
    case "delete,create":
    case "create,delete":
      return "replace";
    case "forget":
      return "forget";
    case "read":
      return "read";
    case "no-op":
    case "":
      return importing ? "import" : "no-op";
    default:
      throw new Error(`unknown Terraform plan action list: [${actions.join(", ")}]`);
  }
}

const ORDER: Record<ChangeKind, number> = { delete: 0, replace: 1, forget: 2, update: 3, import: 4, create: 5, read: 6, "no-op": 7 };

/** Counts and rows of a JSON plan, counted as Terraform counts them (a replacement is one add and one destroy). */
export function summarizePlan(plan: PlanJson): PlanSummary {
  if (typeof plan.format_version !== "string" || !/^1\./.test(plan.format_version)) {
    throw new Error(`not a Terraform JSON plan (format_version ${JSON.stringify(plan.format_version)}); pass the output of terraform show -json PLANFILE`);
  }
  let add = 0;
  let change = 0;
  let destroy = 0;
  let replace = 0;
  let imports = 0;
  let forget = 0;
  const rows: ChangeRow[] = [];
  for (const rc of plan.resource_changes ?? []) {
    if (rc.mode !== "managed") continue;
    const importing = rc.change.importing !== undefined && rc.change.importing !== null;
    const kind = changeKind(rc.change.actions, importing);
    if (importing) imports++;
    switch (kind) {
      case "create":
        add++;
        break;
      case "update":
        change++;
        break;
      case "delete":
        destroy++;
        break;
      case "replace":
        add++;
        destroy++;
        replace++;
        break;
      case "forget":
        forget++;
        break;
      default:
        break;
    }
    if (kind === "no-op" || kind === "read") continue;
    let detail: string | undefined;
    if (kind === "replace") {
      const paths = (rc.change.replace_paths ?? []).map((p) => p.join("."));
      const order = rc.change.actions[0] === "create" ? "create before destroy" : "destroy before create";
      detail = [paths.length > 0 ? `forced by ${paths.join(", ")}` : rc.action_reason, order].filter(Boolean).join("; ");
    } else if (kind === "delete" && rc.action_reason !== undefined) {
      detail = rc.action_reason;
    }
    rows.push({ address: rc.address, kind, ...(detail !== undefined ? { detail } : {}) });
  }
  rows.sort((a, b) => ORDER[a.kind] - ORDER[b.kind] || a.address.localeCompare(b.address));

  const outputs = Object.entries(plan.output_changes ?? {})
    .map(([name, oc]) => ({ name, kind: changeKind(oc.actions) }))
    .filter((o) => o.kind !== "no-op")
    .sort((a, b) => a.name.localeCompare(b.name));
  const drift = (plan.resource_drift ?? []).filter((d) => d.mode === "managed").map((d) => d.address).sort();
  return { add, change: change, destroy, replace, import: imports, forget, rows, outputs, drift, errored: plan.errored === true };
}

/** Terraform's own headline: "Plan: 1 to add, 0 to change, 0 to destroy." or "No changes." */
export function headline(s: PlanSummary): string {
  const changes = s.add + s.change + s.destroy + s.import + s.forget;
  if (changes === 0 && s.outputs.length === 0) return "No changes. Your infrastructure matches the configuration.";
  if (changes === 0) return "Only output values change.";
  const parts = [];
  if (s.import > 0) parts.push(`${s.import} to import`);
  parts.push(`${s.add} to add`, `${s.change} to change`, `${s.destroy} to destroy`);
  if (s.forget > 0) parts.push(`${s.forget} to forget`);
  return `Plan: ${parts.join(", ")}.`;
}

const ICON: Record<ChangeKind, string> = {
  create: "🟢 create",
  update: "🟡 update",
  delete: "🔴 destroy",
  replace: "🟠 replace",
  import: "🔵 import",
  forget: "⚪ forget",
  read: "read",
  "no-op": "no-op",
};

export interface RenderOptions {
  /** Shown in the heading and the marker (the stack name). @default "terraform" (the command line defaults to the plan's directory name) */
  readonly title?: string;
  /** `terraform show -no-color PLANFILE`, shown collapsed. */
  readonly planText?: string;
  /** Upper bound of the whole Markdown; GitHub's comment limit is 65,536. */
  readonly maxChars?: number;
}

/** A code fence longer than any run of backticks in `text`. */
function fenceFor(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  return "`".repeat(longest + 1);
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** The Markdown of the job summary and of the pull-request comment. */
export function renderSummary(s: PlanSummary, opts: RenderOptions = {}): string {
  const title = opts.title ?? "terraform";
  const maxChars = opts.maxChars ?? 60_000;
  const head: string[] = [`<!-- plan-summary:${title} -->`, `### Terraform plan: \`${title}\``, ""];
  if (s.errored) head.push("> [!CAUTION]", "> The plan **errored**; what follows is what Terraform planned before the error.", "");
  head.push(`**${headline(s)}**`, "");
  const counts = `| add | change | destroy | of which replaced |\n|---:|---:|---:|---:|\n| ${s.add} | ${s.change} | ${s.destroy} | ${s.replace} |`;
  head.push(counts, "");
  if (s.destroy > 0) {
    head.push(`> [!WARNING]\n> ${s.destroy} resource(s) will be destroyed${s.replace > 0 ? ` (${s.replace} of them replaced)` : ""}. Check the rows marked 🔴 and 🟠.`, "");
  }

  const tail: string[] = [];
  if (s.outputs.length > 0) {
    tail.push("<details><summary>Output changes</summary>", "", "| output | change |", "|---|---|");
    for (const o of s.outputs) tail.push(`| \`${o.name}\` | ${o.kind} |`);
    tail.push("", "</details>", "");
  }
  if (s.drift.length > 0) {
    tail.push(`<details><summary>Changed outside Terraform (${s.drift.length})</summary>`, "");
    for (const d of s.drift) tail.push(`- \`${d}\``);
    tail.push("", "</details>", "");
  }

  const tableLines = s.rows.map(
    (r) => `| ${ICON[r.kind]} | \`${escapeCell(r.address)}\` | ${r.detail !== undefined ? escapeCell(r.detail) : ""} |`,
  );
  const tableHead = ["| change | resource | why |", "|---|---|---|"];

  const planText = opts.planText?.replace(/\s+$/, "");
  const build = (rowsShown: number, planChars: number | undefined): string => {
    const out = [...head];
    if (s.rows.length > 0) {
      out.push(`<details${s.rows.length <= 50 ? " open" : ""}><summary>Resources (${s.rows.length})</summary>`, "");
      out.push(...tableHead, ...tableLines.slice(0, rowsShown));
      if (rowsShown < s.rows.length) out.push("", `_…and ${s.rows.length - rowsShown} more rows; see the full plan in the workflow log._`);
      out.push("", "</details>", "");
    }
    out.push(...tail);
    if (planText !== undefined && planChars !== undefined) {
      const cut = planText.length > planChars;
      const shown = cut ? `${planText.slice(0, planChars)}\n… (cut: ${planText.length - planChars} more characters; the whole plan is in the workflow log)` : planText;
      const fence = fenceFor(shown);
      out.push(`<details><summary>Full plan (${planText.split("\n").length} lines)</summary>`, "", `${fence}text`, shown, fence, "", "</details>", "");
    }
    return `${out.join("\n").replace(/\n+$/, "")}\n`;
  };

  // Fit under maxChars: cut the plan text first, then the table.
  let md = build(s.rows.length, planText?.length);
  if (md.length <= maxChars) return md;
  if (planText !== undefined) {
    const without = build(s.rows.length, 0).length;
    const room = maxChars - without - 200;
    if (room > 500) {
      md = build(s.rows.length, room);
      if (md.length <= maxChars) return md;
    }
  }
  let rows = s.rows.length;
  while (rows > 0) {
    rows = Math.floor(rows / 2);
    md = build(rows, undefined);
    if (md.length <= maxChars) return md;
  }
  return build(0, undefined).slice(0, maxChars);
}

/**
 * The title when --title is not given: the name of the directory holding the JSON plan, which is the
 * stack's name where Terraform runs (`cdktf.out/stacks/NAME/plan.json` gives `NAME`).
 */
export function defaultTitle(jsonFile: string): string {
  return path.basename(path.dirname(path.resolve(jsonFile)));
}

/**
 * Reads the JSON plan. A binary plan file (what `terraform plan -out` writes: a zip archive, "PK" at
 * its start) or any other non-JSON file is refused with the command that makes the JSON.
 */
export function readPlanJson(file: string): PlanJson {
  const bytes = readFileSync(file);
  const convert = `convert it first: terraform show -json ${file} > plan.json, then pass --json plan.json`;
  if (bytes.subarray(0, 2).toString("latin1") === "PK") {
    throw new UserError(`${file} is a binary plan file (terraform plan -out writes a zip archive), not JSON; ${convert}`);
  }
  try {
    return JSON.parse(bytes.toString("utf8")) as PlanJson;
  } catch (e) {
    throw new UserError(`${file} is not JSON (${(e as Error).message.replace(/, (?:\.\.\.)?"[\s\S]*"(?:\.\.\.)? is not valid JSON$/, "")}); --json takes the output of terraform show -json PLANFILE`);
  }
}

/** The command line's values. */
export interface PlanSummaryArgs {
  readonly json?: string;
  readonly text?: string;
  readonly title?: string;
  readonly "max-chars"?: string;
}

/** The Markdown for the command line's values. */
export function planSummary(args: PlanSummaryArgs): string {
  if (args.json === undefined) throw new UsageError("--json is required: give it the output of terraform show -json PLANFILE");
  const plan = readPlanJson(args.json);
  const planText = args.text !== undefined ? readFileSync(args.text, "utf8") : undefined;
  const maxChars = args["max-chars"] !== undefined ? Number(args["max-chars"]) : undefined;
  if (maxChars !== undefined && !(Number.isInteger(maxChars) && maxChars > 1000)) throw new UsageError(`--max-chars must be a whole number over 1000, got: ${args["max-chars"]}`);
  return renderSummary(summarizePlan(plan), { title: args.title ?? defaultTitle(args.json), planText, maxChars });
}

const USAGE = `usage: npm run plan-summary -- --json PLAN.json [--text PLAN.txt] [--title NAME] [--max-chars N]

Prints the Markdown the plan workflow publishes (job summary and pull-request comment) for a plan.

  --json PLAN.json   the output of terraform show -json PLANFILE (not the binary plan file)
  --text PLAN.txt    the output of terraform show -no-color PLANFILE, shown collapsed
  --title NAME       the stack's name (default: the name of the directory holding PLAN.json)
  --max-chars N      cut the plan text, then the resource table, to stay under N characters (default 60000)

exit codes: 0 printed, 2 a usage error or a file that is not a JSON plan`;

export const planSummaryCommand = command({
  name: "plan-summary",
  usage: USAGE,
  options: { json: { type: "string" }, text: { type: "string" }, title: { type: "string" }, "max-chars": { type: "string" } },
  run: async ({ values }) => {
    process.stdout.write(planSummary(values));
    return EXIT.ok;
  },
});

if (require.main === module) main(planSummaryCommand);
