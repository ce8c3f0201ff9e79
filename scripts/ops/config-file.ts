/**
 * Appends entries to the `repositories` list of a JSON configuration file as text, so that every
 * existing entry, setting, key order, indentation and line ending stays exactly as it was. The
 * file is parsed with `jsonc-parser` only to find where the list's last entry ends; new entries
 * follow the style of that entry (one line per entry if it is on one line, else indented blocks).
 */
import { chmodSync, renameSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { findNodeAtLocation, type Node, parseTree, type ParseError } from "jsonc-parser";

/** One `repositories` entry as discover writes it. */
export interface RepositoryEntry {
  readonly projectKey: string;
  readonly repository: string;
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf("\n", offset - 1) + 1;
}

function indentOf(text: string, offset: number): string {
  const start = lineStart(text, offset);
  return /^[ \t]*/.exec(text.slice(start))![0];
}

/** Returns `text` with `entries` appended to its top-level `repositories` array. */
export function appendRepositories(text: string, entries: readonly RepositoryEntry[]): string {
  if (entries.length === 0) return text;
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: false, disallowComments: true });
  if (root === undefined || errors.length > 0) throw new Error("the configuration is not valid JSON");
  const list: Node | undefined = findNodeAtLocation(root, ["repositories"]);
  if (list === undefined || list.type !== "array") throw new Error("the configuration has no `repositories` list");
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const items = list.children ?? [];
  const last = items[items.length - 1];

  if (last === undefined) throw new Error("the configuration's `repositories` list is empty");

  const lastText = text.slice(last.offset, last.offset + last.length);
  // The list written on one line (its last entry on the line of its "["): the new entries too.
  const sameLine = lineStart(text, last.offset) === lineStart(text, list.offset);
  const indent = indentOf(text, last.offset);
  const oneLine = !lastText.includes("\n");
  const unit = /\n([ \t]+)"/.exec(lastText)?.[1].slice(indent.length) || (text.includes("\t") && !text.includes("  ") ? "\t" : "  ");
  const render = (e: RepositoryEntry): string => {
    if (oneLine) {
      const inner = lastText.startsWith("{ ") ? " " : "";
      const sep = lastText.includes('", "') || lastText.includes(', "') ? ", " : ",";
      const colon = lastText.includes('": ') ? ": " : ":";
      const fields = Object.entries(e).map(([k, v]) => `${JSON.stringify(k)}${colon}${JSON.stringify(v)}`);
      return `{${inner}${fields.join(sep)}${inner}}`;
    }
    return JSON.stringify(e, null, unit).split("\n").join(eol + indent);
  };
  const joiner = sameLine ? ", " : `,${eol}${indent}`;
  const insertion = entries.map((e) => joiner + render(e)).join("");
  const at = last.offset + last.length;
  return text.slice(0, at) + insertion + text.slice(at);
}

/** Writes `text` to `file` through a temporary file and a rename, keeping the file's mode. */
export function replaceFile(file: string, text: string): void {
  const mode = statSync(file).mode & 0o7777;
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}
