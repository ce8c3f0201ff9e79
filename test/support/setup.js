// Registers CDKTF's jest matchers (toHaveResource, toHaveResourceWithProperties, ...): what
// `Testing.setupJest()` does, from the one module that defines them, without loading all of cdktf
// into every test file (about 0.4 s a file; the files that synthesize load it themselves).
require("cdktf/lib/testing/adapters/jest").setupJest();
