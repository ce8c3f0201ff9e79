/**
 * The end-to-end suite (npm run test:e2e): real sshd, real git, real bash running the synthesized
 * buildspec, moto for SSM and StartBuild. See docs/end-to-end.md.
 * @type {import('jest').Config}
 */
module.exports = {
  ...require("./jest.base.js"),
  roots: ["<rootDir>/test/e2e"],
  testMatch: ["**/*.e2e.test.ts"],
  // Each file starts its own sshd, emulator and API stand-in; scenarios inside a file run in order.
  testTimeout: 90_000,
  slowTestThreshold: 30,
};
