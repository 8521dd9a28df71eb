// Preloaded into benchmarked processes: reports their peak RSS on exit (stderr, one line).
process.on("exit", () => process.stderr.write(`\nBENCH_MAXRSS_KB=${process.resourceUsage().maxRSS}\n`));
