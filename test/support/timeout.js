// The project's default test timeout (jest.config.js `globals.TEST_TIMEOUT_MS`; jest 29 has no
// per-project `testTimeout`). Tests that need more set their own.
if (typeof globalThis.TEST_TIMEOUT_MS === "number") jest.setTimeout(globalThis.TEST_TIMEOUT_MS);
