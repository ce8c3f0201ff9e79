// Registers CDKTF's jest matchers (toHaveResource, toHaveResourceWithProperties, ...): what
// `Testing.setupJest()` does, from the one module that defines them, without loading all of cdktf
// into every test file (about 0.4 s a file; the files that synthesize load it themselves).
require("cdktf/lib/testing/adapters/jest").setupJest();

// Stack traces captured onto a plain object rather than an Error (CDKTF's trace for each token it
// makes, cdktf/lib/tokens/private/stack-trace.js, some of them while cdktf itself loads) get V8's
// own format, as under `node dist/main.js`; errors keep jest's source-mapped traces. Mapping a
// token's trace means parsing the source map of every file on the stack (cdktf's are inline), again
// in each test file: about 1.6 s of a run, for traces no test reads. (test/support/synthesizing.ts
// does the same for everything made while a stack synthesizes.)
const { isNativeError } = require("node:util").types;
const sourceMapped = Error.prepareStackTrace;
if (typeof sourceMapped === "function") {
  Error.prepareStackTrace = function prepareStackTrace(error, callSites) {
    if (isNativeError(error)) return sourceMapped(error, callSites);
    return [String(error), ...callSites.map((c) => `    at ${String(c)}`)].join("\n");
  };
}
