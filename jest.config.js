/**
 * Every suite of the project, one jest project each; the npm scripts select one
 * (`jest --selectProjects NAME --no-watchman`: the flag after the project list ends it, so that
 * `npm test -- PATH` passes PATH as a test path), and a bare `npx jest` runs them all:
 *
 * | project     | npm script               | what it runs                                                        |
 * |-------------|--------------------------|---------------------------------------------------------------------|
 * | unit        | `npm test`               | __tests__/: synthesis, validation, scripts in-process; must stay fast |
 * | integration | `npm run test:integration` | Terraform against the local AWS emulator (in band: wall times)      |
 * | e2e         | `npm run test:e2e`       | real sshd, git and bash running the synthesized buildspec (docs/end-to-end.md) |
 * | ops         | `npm run test:ops`       | discover, status and sync against the Backlog API stand-in and the emulator |
 * | module      | `npm run test:module`    | the packed npm package in another app; the Terraform module with real Terraform |
 *
 * Shared: Node environment and the swc transform, which strips types without the TypeScript compiler
 * API (fast, and independent of the TypeScript version). Type checking is `tsc`: `npm test` checks
 * the product and its unit tests (tsconfig.unit.json), `npm run typecheck` the whole tree.
 * @type {import('jest').Config}
 */
const shared = {
  testEnvironment: "node",
  transform: { "^.+\\.ts$": ["@swc/jest", { jsc: { target: "es2022" }, module: { type: "commonjs" } }] },
  moduleFileExtensions: ["ts", "js", "json"],
  testMatch: ["**/*.test.ts"],
};

/** A project's default test timeout (test/support/timeout.js applies it). */
const timeout = (ms) => ({ globals: { TEST_TIMEOUT_MS: ms }, setupFilesAfterEnv: ["<rootDir>/test/support/timeout.js"] });

module.exports = {
  projects: [
    {
      ...shared,
      displayName: "unit",
      roots: ["<rootDir>/__tests__"],
      setupFilesAfterEnv: ["<rootDir>/test/support/setup.js"],
      // One synthesis per configuration and run, shared by the test files (test/support/synth-cache.ts).
      globalSetup: "<rootDir>/test/support/synth-cache-setup.js",
      globalTeardown: "<rootDir>/test/support/synth-cache-teardown.js",
    },
    // Per-test timeouts are set in the suite; this is the fallback.
    { ...shared, displayName: "integration", roots: ["<rootDir>/test/integration"], ...timeout(60_000) },
    // Each file starts its own sshd, emulator and API stand-in; scenarios inside a file run in order.
    { ...shared, displayName: "e2e", roots: ["<rootDir>/test/e2e"], testMatch: ["**/*.e2e.test.ts"], ...timeout(90_000) },
    { ...shared, displayName: "ops", roots: ["<rootDir>/test/ops"], ...timeout(120_000) },
    // npm pack, npm install and terraform init: slow.
    { ...shared, displayName: "module", roots: ["<rootDir>/test/module"], ...timeout(180_000) },
  ],
};
