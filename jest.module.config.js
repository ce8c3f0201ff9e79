/**
 * The module suite (`npm run test:module`): the npm package packed and used by another CDKTF app,
 * and the Terraform-facing artefacts checked with the real Terraform and provider. Slow (npm pack,
 * npm install, terraform init), so kept apart from the unit tests.
 * @type {import('jest').Config}
 */
module.exports = {
  ...require("./jest.base.js"),
  roots: ["<rootDir>/test/module"],
  testMatch: ["**/*.test.ts"],
  testTimeout: 180_000,
  verbose: true,
};
