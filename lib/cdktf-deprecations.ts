/**
 * cdktf 0.21's `TerraformOutput` calls `util.isArray`, which Node 22 deprecates at run time (DEP0044):
 * every synthesis of a stack with an output would print a DeprecationWarning on standard error.
 * It is `Array.isArray` under another name (cdktn 0.24 calls `Array.isArray` itself), so the apps of
 * this repository point it there before synthesizing. Only the apps (main.ts, state/main.ts) call
 * this; the npm package does not: a library does not change a Node built-in for its users.
 */
import util = require("node:util");

export function withoutCdktfDeprecations(): void {
  (util as { isArray: unknown }).isArray = Array.isArray;
}
