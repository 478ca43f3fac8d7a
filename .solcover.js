// solidity-coverage settings, read by `hardhat coverage` (run it through ./scripts/coverage, which
// loads the plugin and keeps the instrumented build out of ./artifacts). See SECURITY-ANALYSIS.md.
module.exports = {
  // Relative to contracts/: test-only fixtures are not product code, interfaces hold no statements.
  skipFiles: ["test/", "interfaces/"],
  // text: the per-file table in the log; json-summary: coverage/coverage-summary.json, whose totals
  // scripts/coverage prints; html and lcov: coverage/index.html and coverage/lcov.info for people
  // and tools. coverage.json (raw hit counts) is always written too. All of it is gitignored.
  istanbulReporter: ["text", "json-summary", "html", "lcov"],
};
