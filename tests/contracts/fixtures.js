// Deployment and Merkle helpers shared by the contract tests and scripts/gas-report.js.
// Not a test file: it defines no `describe`.
const { ethers } = require("hardhat");
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");

/** The payout leaf: (account, token index, cumulative payment, cumulative LABEL reward). */
const PAYOUT_LEAF_ENCODING = ["address", "uint16", "uint256", "uint256"];

const ROLES = {
  admin: ethers.ZeroHash,
  rootProposer: ethers.id("ROOT_PROPOSER_ROLE"),
  guardian: ethers.id("GUARDIAN_ROLE"),
  pauser: ethers.id("PAUSER_ROLE"),
};

/** The salt of a test dataset: the bytes32 of `n` (SALT(1) = 0x00..01). */
const SALT = (n) => ethers.toBeHex(n, 32);

/**
 * The id of `buyer`'s dataset created with `salt`, computed off chain:
 * uint256(keccak256(abi.encode(buyer, salt))), what the contract's `datasetIdOf` returns.
 * @param {string} buyer address
 * @param {string} salt bytes32
 * @returns {bigint}
 */
function datasetId(buyer, salt) {
  return BigInt(ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(["address", "bytes32"], [buyer, salt])));
}

/**
 * Deploys LabelLedger, grants its roles and allowlists `paymentTokens` (indices 1, 2, ...).
 * @param {object} args
 * @param {import("ethers").Signer} args.admin deploys and holds DEFAULT_ADMIN_ROLE
 * @param {string} args.proposer gets ROOT_PROPOSER_ROLE
 * @param {string} [args.guardian] gets GUARDIAN_ROLE
 * @param {string} [args.pauser] gets PAUSER_ROLE
 * @param {number|bigint} [args.timelock] seconds between proposing and accepting an epoch
 * @param {string[]} [args.paymentTokens] token addresses to allowlist, in order
 */
async function deployLedger({ admin, proposer, guardian, pauser, timelock = 0, paymentTokens = [] }) {
  const ledger = await ethers.deployContract("LabelLedger", [await admin.getAddress(), timelock], admin);
  await ledger.waitForDeployment();
  await ledger.connect(admin).grantRole(ROLES.rootProposer, proposer);
  if (guardian) await ledger.connect(admin).grantRole(ROLES.guardian, guardian);
  if (pauser) await ledger.connect(admin).grantRole(ROLES.pauser, pauser);
  for (const token of paymentTokens) await ledger.connect(admin).listToken(token);
  return ledger;
}

/**
 * A StandardMerkleTree (standard-v1) of [account, token, cumulativePayment, cumulativeReward] leaves.
 * `sortLeaves: false` keeps the given order, as the service does (leaves in account order).
 */
function payoutTree(values, { sortLeaves = true } = {}) {
  return StandardMerkleTree.of(
    values.map(([account, token, payment, reward]) => [account, token, payment.toString(), reward.toString()]),
    PAYOUT_LEAF_ENCODING,
    { sortLeaves },
  );
}

/** The leaf of `account` in `token` with its proof: {account, token, cumulativePayment, cumulativeReward, proof}. */
function payoutFor(tree, account, token) {
  for (const [index, [leafAccount, leafToken, payment, reward]] of tree.entries()) {
    if (leafAccount.toLowerCase() === account.toLowerCase() && Number(leafToken) === Number(token)) {
      return {
        account: leafAccount,
        token: Number(leafToken),
        cumulativePayment: BigInt(payment),
        cumulativeReward: BigInt(reward),
        proof: tree.getProof(index),
      };
    }
  }
  throw new Error(`no leaf for ${account} in token ${token}`);
}

/** claimMany's arguments for the leaves of `accounts` (in `token`): leaves in multiproof order. */
function multiproofFor(tree, pairs) {
  const indices = pairs.map(([account, token]) => {
    for (const [index, [leafAccount, leafToken]] of tree.entries()) {
      if (leafAccount.toLowerCase() === account.toLowerCase() && Number(leafToken) === Number(token)) return index;
    }
    throw new Error(`no leaf for ${account} in token ${token}`);
  });
  const { leaves, proof, proofFlags } = tree.getMultiProof(indices);
  return {
    leaves: leaves.map(([account, token, payment, reward]) => ({
      account,
      token: Number(token),
      cumulativePayment: BigInt(payment),
      cumulativeReward: BigInt(reward),
    })),
    proof,
    proofFlags,
  };
}

/** ERC-2612 permit signature of `owner` for `spender` on `token` (an OpenZeppelin ERC20Permit). */
async function signPermit(token, owner, spender, value, deadline) {
  const { chainId } = await ethers.provider.getNetwork();
  const domain = {
    name: await token.name(),
    version: "1",
    chainId,
    verifyingContract: await token.getAddress(),
  };
  const types = {
    Permit: [
      { name: "owner", type: "address" },
      { name: "spender", type: "address" },
      { name: "value", type: "uint256" },
      { name: "nonce", type: "uint256" },
      { name: "deadline", type: "uint256" },
    ],
  };
  const message = { owner: owner.address, spender, value, nonce: await token.nonces(owner.address), deadline };
  return ethers.Signature.from(await owner.signTypedData(domain, types, message));
}

module.exports = {
  deployLedger,
  payoutTree,
  payoutFor,
  multiproofFor,
  signPermit,
  SALT,
  datasetId,
  PAYOUT_LEAF_ENCODING,
  ROLES,
};
