/**
 * The npm package's public API (package.json `exports["."]`): the construct, its props and the
 * types they are made of, what it exposes per repository, and the error its validation throws.
 * Everything else in lib/ is internal and not reachable from the package.
 */
export { BacklogCodeCommitMirror, DEFAULT_LOG_RETENTION_DAYS, type MirroredRepository } from "./lib/mirror";
export type * from "./lib/props";
export { ConfigError } from "./lib/validation";
