/**
 * What every jest configuration of the project shares: Node environment and the swc transform,
 * which strips types without the TypeScript compiler API (fast, and independent of the TypeScript
 * version). Type checking is `tsc`: `npm test` checks the product and its unit tests
 * (tsconfig.unit.json), `npm run typecheck` the whole tree.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: "node",
  transform: { "^.+\\.ts$": ["@swc/jest", { jsc: { target: "es2022" }, module: { type: "commonjs" } }] },
  moduleFileExtensions: ["ts", "js", "json"],
};
