/** @type {import('jest').Config} */
module.exports = {
  ...require("./jest.base.js"),
  roots: ["<rootDir>/__tests__"],
  testMatch: ["**/*.test.ts"],
  setupFilesAfterEnv: ["<rootDir>/test/support/setup.js"],
};
