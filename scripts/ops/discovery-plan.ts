/**
 * What `npm run discover` decides, apart from any I/O: which of Backlog's repositories the
 * configuration lacks, and which of those the configuration rules refuse. The rules are the
 * configuration's own zod schema (lib/validation.ts), applied to the configuration as it would be
 * with each new entry appended in turn, so that every rule (names, duplicates after name
 * derivation, the repository count) is judged exactly as synthesis will judge it.
 */
import { formatIssues, stackConfigSchema, type StackConfig } from "../../lib/validation";
import type { RepositoryEntry } from "./config-file";

/** A Backlog repository the rules refuse, with the rule(s) it breaks. */
export interface RefusedRepository {
  readonly projectKey: string;
  readonly repository: string;
  readonly reasons: readonly string[];
}

export interface DiscoveryPlan {
  /** Entries to add, in Backlog's order, project by project. */
  readonly added: readonly RepositoryEntry[];
  /** `PROJECT/REPO` of the Backlog repositories the configuration already has. */
  readonly configured: readonly string[];
  readonly refused: readonly RefusedRepository[];
}

/** Backlog's repositories of one project. */
export interface ListedProject {
  readonly projectKey: string;
  readonly repositories: readonly string[];
}

/**
 * The messages of issues about entry `index`, with the entry's path removed, and of issues about the
 * list itself (its length), with the count instead of the whole list.
 */
function reasonsFor(config: { repositories: unknown[] }, issues: Parameters<typeof formatIssues>[2], index: number): string[] {
  const entry = issues.filter((i) => i.path[0] === "repositories" && i.path[1] === index);
  const list = issues.filter((i) => i.path[0] === "repositories" && i.path.length === 1);
  return [
    ...formatIssues(stackConfigSchema, config, entry).map((line) =>
      line.replace(`\`repositories[${index}].`, "`").replace(`\`repositories[${index}]\``, "the entry"),
    ),
    ...list.map((i) => `\`repositories\` ${i.message}, and this entry would be number ${config.repositories.length}`),
  ];
}

/** Decides the entries to add to `config` for the repositories Backlog listed. */
export function planDiscovery(config: StackConfig, listed: readonly ListedProject[]): DiscoveryPlan {
  const have = new Set(config.repositories.map((r) => `${r.projectKey}/${r.repository}`));
  const accepted: StackConfig["repositories"][number][] = [...config.repositories];
  const added: RepositoryEntry[] = [];
  const configured: string[] = [];
  const refused: RefusedRepository[] = [];
  for (const project of listed) {
    for (const repository of project.repositories) {
      const key = `${project.projectKey}/${repository}`;
      if (have.has(key)) {
        configured.push(key);
        continue;
      }
      const entry: RepositoryEntry = { projectKey: project.projectKey, repository };
      const trial = { ...config, repositories: [...accepted, entry] };
      const result = stackConfigSchema.safeParse(trial);
      const reasons = result.success ? [] : reasonsFor(trial, result.error.issues, accepted.length);
      if (reasons.length > 0) {
        refused.push({ ...entry, reasons });
      } else {
        accepted.push(entry);
        added.push(entry);
        have.add(key);
      }
    }
  }
  return { added, configured, refused };
}
