/**
 * The operations suite (`npm run test:ops`): `npm run discover` and `npm run status` run as the
 * user runs them, against the Backlog API stand-in (test/backlog-api/) and the local AWS emulator.
 * @type {import('jest').Config}
 */
module.exports = {
  ...require("./jest.base.js"),
  roots: ["<rootDir>/test/ops"],
  testMatch: ["**/*.test.ts"],
  testTimeout: 120_000,
  verbose: true,
};
