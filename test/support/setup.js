// Registers CDKTF's jest matchers (toHaveResource, toHaveResourceWithProperties, ...).
const cdktf = require("cdktf");
cdktf.Testing.setupJest();
