// Hardhat configuration for the label-ledger contracts.
//
// The build machines have no internet access beyond package registries, so Hardhat must not try to
// download a compiler: the solc build is taken from the pinned `solc` npm package (solcjs).
require("@nomicfoundation/hardhat-ethers");
require("@nomicfoundation/hardhat-chai-matchers");

const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");

const SOLC_VERSION = "0.8.28";

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async ({ solcVersion }, _hre, runSuper) => {
  if (solcVersion !== SOLC_VERSION) {
    return runSuper();
  }
  const solc = require("solc");
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: solc.version(),
  };
});

/** @type {import("hardhat/config").HardhatUserConfig} */
module.exports = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      optimizer: { enabled: true, runs: 10000 },
      evmVersion: "cancun",
    },
  },
  networks: {
    // Run the tests on the same EVM the bytecode is compiled for.
    hardhat: { hardfork: "cancun" },
  },
  paths: {
    sources: "./contracts",
    tests: "./tests/contracts",
    artifacts: "./artifacts",
    cache: "./cache",
  },
  mocha: {
    timeout: 60000,
  },
};
