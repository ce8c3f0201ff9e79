// Preloaded by scripts/bench.js: writes the process's peak RSS (KiB) to $RSS_PROBE_FILE at exit.
"use strict";
process.on("exit", () => {
  const file = process.env.RSS_PROBE_FILE;
  if (file) require("node:fs").writeFileSync(file, String(process.resourceUsage().maxRSS));
});
