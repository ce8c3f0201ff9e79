// jest globalTeardown of the unit project: removes the run's synthesis directory (synth-cache-setup.js).
const { rmSync } = require("node:fs");

module.exports = async () => {
  const dir = process.env.MIRROR_UNIT_SYNTH_CACHE;
  if (dir !== undefined && dir !== "") rmSync(dir, { recursive: true, force: true });
};
