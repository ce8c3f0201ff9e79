/**
 * The end-to-end suite (npm run test:e2e): real sshd, real git, real bash running the synthesized
 * buildspec, moto for SSM and StartBuild. See test/e2e/README.md.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test/e2e"],
  testMatch: ["**/*.e2e.test.ts"],
  transform: { "^.+\\.ts$": ["@swc/jest", { jsc: { target: "es2022" }, module: { type: "commonjs" } }] },
  moduleFileExtensions: ["ts", "js", "json"],
  // Each file starts its own sshd, emulator and API stand-in; scenarios inside a file run in order.
  testTimeout: 90_000,
  slowTestThreshold: 30,
};
