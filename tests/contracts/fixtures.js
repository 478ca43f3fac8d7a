// Deployment helpers shared by the contract tests. Not a test file: it defines no `describe`.
//
// Wiring is by predicted CREATE addresses, no setters: the deployer sends, in consecutive nonces
// n, n+1, n+2: LabelToken(minter = distributor), DatasetEscrow(distributor), EpochDistributor(...).
const { ethers } = require("hardhat");
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");

const LEAF_ENCODING = ["address", "address", "uint256"];

/**
 * Deploys LabelToken, DatasetEscrow and EpochDistributor wired to each other.
 * @param {object} args
 * @param {import("ethers").Signer} args.deployer sends the three deployments (consecutive nonces)
 * @param {string} args.operator the distributor's operator (its Ownable2Step owner)
 */
async function deployLedger({ deployer, operator }) {
  const from = await deployer.getAddress();
  const nonce = await ethers.provider.getTransactionCount(from, "pending");
  const predictedDistributor = ethers.getCreateAddress({ from, nonce: nonce + 2 });

  const deployAt = async (name, args, nonceOffset) =>
    (await ethers.getContractFactory(name, deployer)).deploy(...args, { nonce: nonce + nonceOffset });
  const labelToken = await deployAt("LabelToken", [predictedDistributor], 0);
  const escrow = await deployAt("DatasetEscrow", [predictedDistributor], 1);
  const distributor = await deployAt(
    "EpochDistributor",
    [await escrow.getAddress(), await labelToken.getAddress(), operator],
    2,
  );
  await Promise.all([labelToken.waitForDeployment(), escrow.waitForDeployment(), distributor.waitForDeployment()]);

  const distributorAddress = await distributor.getAddress();
  if (distributorAddress !== predictedDistributor) {
    throw new Error(`distributor landed at ${distributorAddress}, predicted ${predictedDistributor}`);
  }
  return { labelToken, escrow, distributor };
}

/** A StandardMerkleTree (standard-v1) of [account, token, cumulative] leaves. */
function entitlementTree(values) {
  return StandardMerkleTree.of(
    values.map(([account, token, cumulative]) => [account, token, cumulative.toString()]),
    LEAF_ENCODING,
  );
}

/** The Entitlement struct for `account`'s leaf in `token`, with its proof. */
function entitlementFor(tree, account, token) {
  for (const [index, [leafAccount, leafToken, cumulative]] of tree.entries()) {
    if (leafAccount.toLowerCase() === account.toLowerCase() && leafToken.toLowerCase() === token.toLowerCase()) {
      return { token: leafToken, cumulative: BigInt(cumulative), proof: tree.getProof(index) };
    }
  }
  throw new Error(`no leaf for ${account} in ${token}`);
}

module.exports = { deployLedger, entitlementTree, entitlementFor, LEAF_ENCODING };
