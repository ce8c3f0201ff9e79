// jest globalSetup of the unit project: the directory where test files share syntheses during one
// run (test/support/synth-cache.ts). Workers start after this and inherit the variable.
const { mkdtempSync } = require("node:fs");
const { tmpdir } = require("node:os");
const path = require("node:path");

module.exports = async () => {
  process.env.MIRROR_UNIT_SYNTH_CACHE = mkdtempSync(path.join(tmpdir(), "mirror-unit-synth-"));
};
