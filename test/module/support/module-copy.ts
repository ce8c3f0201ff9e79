/** A copy of the committed module for a suite's scratch directory, without a local `.terraform/`. */
import { cpSync } from "node:fs";
import { MODULE_DIR } from "../../../scripts/build-module";

export function copyModule(dest: string): void {
  cpSync(MODULE_DIR, dest, { recursive: true, filter: (s) => !/\.terraform/.test(s) });
}
