/**
 * The integration suite (`npm run test:integration`): Terraform against the local AWS emulator.
 * Kept apart from the unit tests (jest.config.js), which must stay fast. Run in band: each cycle
 * starts its own emulator and Terraform processes, and the figures it reports are wall times.
 * @type {import('jest').Config}
 */
module.exports = {
  ...require("./jest.base.js"),
  roots: ["<rootDir>/test/integration"],
  testMatch: ["**/*.test.ts"],
  // Per-test timeouts are set in the suite; this is the fallback.
  testTimeout: 60_000,
  verbose: true,
};
