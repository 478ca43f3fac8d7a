// Gas report for the core contract (contracts/LabelLedger.sol) against issue 3's budgets, with the
// two baselines measured in the same run. Writes GAS_REPORT.md and gas-snapshot.json and prints the
// table.
//
//   npx hardhat run scripts/gas-report.js                         report mode, always exits 0
//   GAS_ENFORCE=1 npx hardhat run scripts/gas-report.js           exits 1 when a row misses its budget
//   GAS_CHECK_SNAPSHOT=1 npx hardhat run scripts/gas-report.js    writes nothing; exits 1 when the
//                                        fresh figures (or the report) differ from the committed ones
//
// Runs on the in-process Hardhat network (hardfork cancun, as hardhat.config.js sets). Every figure
// is a whole transaction's receipt gasUsed (21k base and calldata included), for ours and the
// baselines alike. When our contracts change, retarget the `ours` object below and nothing else.
const fs = require("node:fs");
const path = require("node:path");
const { execFileSync } = require("node:child_process");
const { ethers, network } = require("hardhat");
// Hashing goes through the ethers package itself: hre.ethers is a lazy Proxy, and a property read
// through it on each of the ~600k hashes made the trees four times slower.
const { id, keccak256 } = require("ethers");

const { time } = require("@nomicfoundation/hardhat-network-helpers");

const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");
const { deployLedger, PAYOUT_LEAF_ENCODING, payoutFor } = require("../tests/contracts/fixtures");

const ROOT_DIR = path.join(__dirname, "..");
const REPORT_PATH = path.join(ROOT_DIR, "GAS_REPORT.md");
const SNAPSHOT_PATH = path.join(ROOT_DIR, "gas-snapshot.json");

// ---------------------------------------------------------------------------------------------
// The workload
// ---------------------------------------------------------------------------------------------

const TREE_LEAVES = 100_000; // 25,000 of our accounts and 25,000 of the baseline's, x 2 tokens
const PROOF_DEPTH = 17; // the depth of most leaves of a 100k-leaf tree
const BATCH_RECIPIENTS = 100; // HUMAN bulkPayOut's usual batch
const LABELS_PER_RECIPIENT = 100; // for the per-label reference of a push
const PULL_EPOCH_LABELS = 100_000;
const PULL_EPOCH_ANNOTATORS = 1_000;
const PULL_EPOCH_DATASETS = 10;
const PAYMENT_PER_LABEL = 50_000n; // 0.05 dUSD (6 decimals)
const REWARD_PER_LABEL = 10n ** 17n; // 0.1 LABEL (18 decimals): the baseline's LABEL stand-in
const REWARD_PER_LABEL_OURS = 10n ** 5n; // 0.1 LABEL: our LABEL has 6 decimals
const FEE_BPS = 250n; // platform fee, taken on top of each debit (production-like; 0 would hide nothing)
const TIMELOCK = 3600; // epoch timelock: a proposed root is claimable an hour later
const DATASET_FUNDING = 10_000_000_000n; // 10,000 dUSD
const DEBIT = 1_000_000_000n; // 1,000 dUSD per dataset per epoch

/** Labels account `index` has verified up to `epoch` (cumulative); deterministic, varied. */
function labelsEarned(index, epoch) {
  let labels = 20 + ((index * 7919) % 481);
  if (epoch >= 2) labels += 10 + ((index * 104729) % 191);
  return BigInt(labels);
}

/** A realistic, distinct, deterministic address: 20 bytes of a hash, lowercase hex. */
function accountAt(population, index) {
  return "0x" + id(`label-ledger gas report/${population}/${index}`).slice(26);
}

// ---------------------------------------------------------------------------------------------
// EVM cost model (cancun) for the floor arithmetic
// ---------------------------------------------------------------------------------------------

const GAS = {
  transaction: 21_000,
  calldataNonZeroByte: 16,
  calldataZeroByte: 4,
  newSlot: 22_100, // 20,000 SSTORE zero -> non-zero + 2,100 cold access
  updatedSlot: 5_000, // 2,900 SSTORE non-zero -> non-zero + 2,100 cold access
  coldRead: 2_100, // SLOAD of a slot the transaction does not write
  coldAccount: 2_600, // first CALL/STATICCALL to a contract other than the transaction's target
};

// ---------------------------------------------------------------------------------------------
// Merkle tree: OpenZeppelin StandardMerkleTree (standard-v1) over static ABI words.
// @openzeppelin/merkle-tree takes ~20 s per 100k leaves (its ABI encoder), so the report builds
// the same tree with a local implementation, checked against the library on every run
// (crossCheckTree); the claims then verify the proofs on chain.
// ---------------------------------------------------------------------------------------------

/** One static ABI word (address or uint256) as 64 hex digits. */
const abiWord = (value) =>
  (typeof value === "bigint" ? value.toString(16) : value.toLowerCase().replace(/^0x/, "")).padStart(64, "0");

/** A leaf: its lookup key and the values abi.encode'd into it, e.g. [account, token, cumulative]. */
const leaf = (key, values) => ({ key: key.toLowerCase(), words: values.map(abiWord) });

/** The key of `account`'s leaf in `token` (the (address, address, uint256) leaves). */
const tokenLeafKey = (account, token) => `${account}:${token}`.toLowerCase();

/** Sorted-pair keccak of two nodes, as OpenZeppelin MerkleProof does. */
function nodeHash(a, b) {
  return keccak256(a < b ? a + b.slice(2) : b + a.slice(2));
}

/**
 * The standard-v1 tree of `leaves`: keccak256(keccak256(abi.encode(values))) per leaf, laid out as
 * a complete binary tree in an array, exactly as @openzeppelin/merkle-tree does. `sortLeaves`
 * false keeps the given order (the library's option of the same name): the service orders its
 * payout leaves by (account, token), so that consecutive leaves share subtrees and a push batch of
 * consecutive annotators has a short multiproof.
 */
function buildTree(leaves, { sortLeaves = true } = {}) {
  const hashed = leaves.map(({ key, words }) => ({ key, hash: keccak256(keccak256("0x" + words.join(""))) }));
  if (sortLeaves) hashed.sort((x, y) => (x.hash < y.hash ? -1 : x.hash > y.hash ? 1 : 0));
  const nodes = new Array(2 * hashed.length - 1);
  const indexOf = new Map();
  hashed.forEach(({ key, hash }, i) => {
    nodes[nodes.length - 1 - i] = hash;
    indexOf.set(key, nodes.length - 1 - i);
  });
  for (let i = nodes.length - 1 - hashed.length; i >= 0; i--) nodes[i] = nodeHash(nodes[2 * i + 1], nodes[2 * i + 2]);

  const find = (key) => {
    const index = indexOf.get(key.toLowerCase());
    if (index === undefined) throw new Error(`no leaf ${key}`);
    return index;
  };
  return {
    root: nodes[0],
    size: hashed.length,
    proof(key) {
      const proof = [];
      for (let i = find(key); i > 0; i = Math.floor((i - 1) / 2)) proof.push(nodes[i % 2 === 1 ? i + 1 : i - 1]);
      return proof;
    },
    depth: (key) => Math.floor(Math.log2(find(key) + 1)),
    /** A multiproof of `keys`, as @openzeppelin/merkle-tree's getMultiProof: leaves in its order. */
    multiProof(keys) {
      const keyAt = new Map(keys.map((key) => [find(key), key.toLowerCase()]));
      const indices = [...keyAt.keys()].sort((a, b) => b - a);
      const stack = [...indices];
      const proof = [];
      const proofFlags = [];
      while (stack.length > 0 && stack[0] > 0) {
        const j = stack.shift();
        const sibling = j % 2 === 1 ? j + 1 : j - 1;
        if (sibling === stack[0]) {
          proofFlags.push(true);
          stack.shift();
        } else {
          proofFlags.push(false);
          proof.push(nodes[sibling]);
        }
        stack.push(Math.floor((j - 1) / 2));
      }
      return { keys: indices.map((i) => keyAt.get(i)), proof, proofFlags };
    },
  };
}

/**
 * The local tree must give the library's root, proofs and multiproofs for our payout leaves
 * (account, uint16 token, payment, reward), or the report refuses to run.
 */
function crossCheckTree(values, sortLeaves) {
  const local = buildTree(
    values.map(([account, token, ...amounts]) => leaf(tokenLeafKey(account, token), [account, BigInt(token), ...amounts])),
    { sortLeaves },
  );
  const reference = StandardMerkleTree.of(
    values.map(([account, token, ...amounts]) => [account, token, ...amounts.map(String)]),
    PAYOUT_LEAF_ENCODING,
    { sortLeaves },
  );
  if (local.root !== reference.root) throw new Error(`local Merkle root ${local.root} != library ${reference.root}`);
  for (const [account, token] of [values[0], values[values.length - 1]]) {
    const theirs = payoutFor(reference, account, token).proof;
    if (JSON.stringify(local.proof(tokenLeafKey(account, token))) !== JSON.stringify(theirs)) {
      throw new Error(`local proof differs for ${account}`);
    }
  }
  const picked = values.filter((_, i) => i % 7 === 3).map(([account, token]) => tokenLeafKey(account, token));
  const mine = local.multiProof(picked);
  const indexOf = new Map([...reference.entries()].map(([i, [account, token]]) => [tokenLeafKey(account, token), i]));
  const theirs = reference.getMultiProof(picked.map((key) => indexOf.get(key)));
  const theirKeys = theirs.leaves.map(([account, token]) => tokenLeafKey(account, token));
  if (
    JSON.stringify([mine.keys, mine.proof, mine.proofFlags]) !==
    JSON.stringify([theirKeys, theirs.proof, theirs.proofFlags])
  ) {
    throw new Error("local multiproof differs from the library's");
  }
}

/** `count` annotators of `population` with what they have earned up to `epoch`, cumulatively. */
function annotators(population, count, epoch) {
  const rewardPerLabel = population === "ours" ? REWARD_PER_LABEL_OURS : REWARD_PER_LABEL;
  return Array.from({ length: count }, (_, i) => {
    const labels = labelsEarned(i, epoch);
    return {
      account: accountAt(population, i),
      payment: labels * PAYMENT_PER_LABEL,
      reward: labels * rewardPerLabel,
    };
  });
}

const totalPayment = (earners) => earners.reduce((sum, e) => sum + e.payment, 0n);

// ---------------------------------------------------------------------------------------------
// OUR CONTRACTS: the only code to retarget when their interfaces change. `c` holds the deployed
// contracts and signers; an `earner` is {account, payment, reward}: cumulative entitlements in
// dUSD and LABEL. Operations send their transaction(s) and return them (one or an array); the
// harness measures the receipts.
// ---------------------------------------------------------------------------------------------

const ours = {
  /** Deploys LabelLedger the way tests/contracts/fixtures.js does: dUSD listed as token 1. */
  async deploy({ deployer, operator, payment }) {
    const ledger = await deployLedger({
      admin: deployer,
      proposer: operator.address,
      timelock: TIMELOCK,
      paymentTokens: [await payment.getAddress()],
    });
    await ledger.connect(deployer).setFeeBps(FEE_BPS);
    const ledgerAddress = await ledger.getAddress();
    return { ledger, ledgerAddress, paymentIndex: 1n, rewardToken: ledgerAddress };
  },

  /** The epoch tree's leaves for one earner: one (account, token index, payment, reward) leaf. */
  leaves: (c, { account, payment, reward }) => [
    leaf(tokenLeafKey(account, c.paymentIndex), [account, c.paymentIndex, payment, reward]),
  ],

  /** An account's dUSD and LABEL balances (the push check compares them before and after a re-send). */
  balances: (c, account) => Promise.all([c.payment.balanceOf(account), c.ledger.balanceOf(account)]),

  approve: (c, buyer, amount) => c.payment.connect(buyer).approve(c.ledgerAddress, amount),

  /** Creates and funds dataset datasetIdOf(buyer, salt); the id is also read back from the event. */
  createAndFund: (c, buyer, salt, amount) => c.ledger.connect(buyer).createAndFund(salt, c.paymentIndex, amount),

  datasetIdOf: async (c, tx) => {
    const receipt = await tx.wait();
    const created = receipt.logs.map((log) => c.ledger.interface.parseLog(log)).find((e) => e?.name === "DatasetCreated");
    return created.args.datasetId;
  },

  /**
   * Posting an epoch, steady state: one proposeEpoch (root proposer: roots, content hash,
   * debits) that first accepts the previous epoch, whose timelock the operator's cadence has let
   * pass. The report lets the timelock pass before every post and makes sure a previous epoch is
   * pending, so every measured post includes that acceptance. The label root and content hash are
   * realistic hashes.
   */
  postEpoch: async (c, epoch, root, datasetIds, debits) => {
    await time.increase(TIMELOCK);
    const propose = await c.ledger
      .connect(c.operator)
      .proposeEpoch(epoch, root, id(`label root ${epoch}`), id(`content ${epoch}`), datasetIds, debits);
    return [propose];
  },

  /**
   * Makes the latest proposed root claimable before the next post: acceptEpoch, which anyone may
   * send once the timelock has passed (an annotator eager to claim, say). Not operator gas.
   */
  makeClaimable: async (c) => {
    await time.increase(TIMELOCK);
    await (await c.ledger.connect(c.operator).acceptEpoch()).wait();
  },

  /** One claim paying `earner` both tokens under `tree` (the latest accepted root). */
  claim: (c, tree, { account, payment, reward }) =>
    c.ledger
      .connect(c.relayer)
      .claim(account, c.paymentIndex, payment, reward, tree.proof(tokenLeafKey(account, c.paymentIndex))),

  /**
   * Push payout: the operator pays every one of `earners` both tokens under `tree` (accepted as
   * `epoch`) with claimMany and one OpenZeppelin multiproof; re-sent, it pays nothing.
   */
  pushPayout: async (c, _epoch, tree, earners) => {
    const byKey = new Map(earners.map((e) => [tokenLeafKey(e.account, c.paymentIndex), e]));
    const { keys, proof, proofFlags } = tree.multiProof([...byKey.keys()]);
    const leaves = keys.map((key) => {
      const { account, payment, reward } = byKey.get(key);
      return { account, token: c.paymentIndex, cumulativePayment: payment, cumulativeReward: reward };
    });
    return c.ledger.connect(c.operator).claimMany(leaves, proof, proofFlags);
  },
};

// ---------------------------------------------------------------------------------------------
// Measurement: receipts, then a trace of each transaction for the storage-floor arithmetic
// ---------------------------------------------------------------------------------------------

const PRECOMPILE_MAX = 0x0an;

const stackWord = (entry) => BigInt(entry.startsWith("0x") ? entry : "0x" + entry);
const addressOf = (value) => ethers.toBeHex(value & ((1n << 160n) - 1n), 20);

/**
 * What one transaction paid for: calldata, slots made non-zero (new), slots changed (updated),
 * contracts called cold. Slots are classified by their value before and after the transaction
 * (each measured transaction is alone in its block).
 */
async function profileTransaction(receipt, names) {
  const tx = await ethers.provider.getTransaction(receipt.hash);
  const data = ethers.getBytes(tx.data);
  const calldataNonZero = data.filter((b) => b !== 0).length;

  const trace = await network.provider.send("debug_traceTransaction", [
    receipt.hash,
    { disableMemory: true, disableStorage: true },
  ]);
  const to = receipt.to.toLowerCase();
  const contextAt = { 1: to }; // storage context by call depth
  const written = new Map();
  const read = new Map();
  const touched = new Set();
  let calls = 0;
  let logs = 0;
  let logGas = 0;
  for (const step of trace.structLogs) {
    const stack = step.stack;
    const top = (k) => stackWord(stack[stack.length - 1 - k]);
    const context = contextAt[step.depth];
    switch (step.op) {
      case "SLOAD":
        read.set(`${context}:${top(0)}`, { address: context, slot: top(0) });
        break;
      case "SSTORE":
        written.set(`${context}:${top(0)}`, { address: context, slot: top(0) });
        break;
      case "CALL":
      case "CALLCODE":
      case "STATICCALL":
      case "DELEGATECALL": {
        calls += 1;
        const target = addressOf(top(1));
        touched.add(target);
        contextAt[step.depth + 1] = step.op === "DELEGATECALL" || step.op === "CALLCODE" ? context : target;
        break;
      }
      case "BALANCE":
      case "EXTCODESIZE":
      case "EXTCODEHASH":
      case "EXTCODECOPY":
        touched.add(addressOf(top(0)));
        break;
      default:
        if (step.op.startsWith("LOG")) {
          logs += 1;
          logGas += step.gasCost;
        }
    }
  }

  const before = ethers.toQuantity(receipt.blockNumber - 1);
  const after = ethers.toQuantity(receipt.blockNumber);
  const storageAt = (address, slot, block) =>
    network.provider.send("eth_getStorageAt", [address, ethers.toQuantity(slot), block]).then(BigInt);
  const newBy = {};
  const updatedBy = {};
  let newSlots = 0;
  let updatedSlots = 0;
  let clearedSlots = 0;
  for (const { address, slot } of written.values()) {
    const [was, is] = [await storageAt(address, slot, before), await storageAt(address, slot, after)];
    const name = names.get(address) ?? address;
    if (was === 0n && is !== 0n) {
      newSlots += 1;
      newBy[name] = (newBy[name] ?? 0) + 1;
    } else if (was !== is) {
      updatedSlots += 1;
      updatedBy[name] = (updatedBy[name] ?? 0) + 1;
      if (is === 0n) clearedSlots += 1;
    }
  }
  const warm = new Set([to, tx.from.toLowerCase()]);
  const coldAccounts = [...touched].filter((a) => !warm.has(a) && BigInt(a) > PRECOMPILE_MAX).length;
  const coldReads = [...read.keys()].filter((key) => !written.has(key)).length;
  const calldataGas =
    calldataNonZero * GAS.calldataNonZeroByte + (data.length - calldataNonZero) * GAS.calldataZeroByte;
  return {
    gas: Number(receipt.gasUsed),
    txs: 1,
    calldataBytes: data.length,
    calldataNonZero,
    calldataGas,
    newSlots,
    updatedSlots,
    clearedSlots,
    coldAccounts,
    coldReads,
    calls,
    logs,
    logGas,
    floor:
      GAS.transaction +
      calldataGas +
      newSlots * GAS.newSlot +
      updatedSlots * GAS.updatedSlot +
      coldReads * GAS.coldRead +
      coldAccounts * GAS.coldAccount,
    newBy,
    updatedBy,
  };
}

function addProfiles(a, b) {
  const sum = {};
  for (const key of Object.keys(a)) {
    if (typeof a[key] === "number") sum[key] = a[key] + b[key];
    else {
      sum[key] = { ...a[key] };
      for (const [name, n] of Object.entries(b[key])) sum[key][name] = (sum[key][name] ?? 0) + n;
    }
  }
  return sum;
}

class Measurements {
  constructor(names) {
    this.names = names;
    this.byKey = new Map();
    this.notes = new Map();
    this.calls = new Map(); // key -> [{to, data}]: what each measurement sent, for L1 fees
  }

  /** Sends what `send` sends (one transaction or an array), waits, profiles and records it. */
  async record(key, send) {
    const sent = [].concat(await send());
    let total = null;
    for (const tx of sent) {
      const receipt = await tx.wait();
      if (receipt.status !== 1) throw new Error(`${key}: transaction reverted`);
      const profile = await profileTransaction(receipt, this.names);
      total = total ? addProfiles(total, profile) : profile;
    }
    this.byKey.set(key, total);
    this.calls.set(
      key,
      sent.map((tx) => ({ to: tx.to, data: tx.data })),
    );
    return total;
  }

  has(key) {
    return this.byKey.has(key);
  }

  get(key) {
    const found = this.byKey.get(key);
    if (!found) throw new Error(`no measurement ${key}`);
    return found;
  }

  /** The sum of several measurements' profiles. */
  sum(keys) {
    return keys.map((key) => this.get(key)).reduce(addProfiles);
  }
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

async function run() {
  const [deployer, operator, relayer, ...buyers] = await ethers.getSigners();
  const runStarted = Date.now();
  const log = (message) => console.error(`[gas] ${((Date.now() - runStarted) / 1000).toFixed(1)} s: ${message}`);

  // Tokens, our contracts, the baselines. The LABEL stand-in is a plain OpenZeppelin ERC20 minted by the
  // deployer: a plain OpenZeppelin ERC20 with the same code as LABEL.
  const payment = await ethers.deployContract("DevStablecoin", [], deployer);
  const deployed = await ours.deploy({ deployer, operator, payment });
  const labelStandIn = await ethers.deployContract("StandInToken", [deployer.address], deployer);
  const morpho = await ethers.deployContract("MorphoStyleDistributor", [operator.address], deployer);
  const bare = await ethers.deployContract("BareBatchTransfer", [operator.address], deployer);
  const c = {
    ...deployed,
    payment,
    paymentToken: await payment.getAddress(),
    escrowAddress: deployed.ledgerAddress,
    operator,
    relayer,
  };
  const standInToken = await labelStandIn.getAddress();
  const names = new Map(
    Object.entries({
      dUSD: c.paymentToken,
      "LabelLedger (LABEL)": c.ledgerAddress,
      "LABEL stand-in": standInToken,
      MorphoStyleDistributor: await morpho.getAddress(),
      BareBatchTransfer: await bare.getAddress(),
    }).map(([name, address]) => [address.toLowerCase(), name]),
  );
  const m = new Measurements(names);

  // One tree of 100k leaves per epoch, posted to our distributor and to the Morpho baseline alike:
  // 25k of our annotators (leaves as `ours.leaves` makes them), 25k of the baseline's in (dUSD,
  // LABEL stand-in), filler leaves up to 100k. Epoch 2 raises every cumulative.
  log("building trees");
  const population = TREE_LEAVES / 4;
  for (const sortLeaves of [true, false]) {
    crossCheckTree(
      annotators("cross-check", 500, 1).map((e) => [e.account, Number(c.paymentIndex), e.payment, e.reward]),
      sortLeaves,
    );
  }
  const baselineLeaves = ({ account, payment, reward }) => [
    leaf(tokenLeafKey(account, c.paymentToken), [account, c.paymentToken, payment]),
    leaf(tokenLeafKey(account, standInToken), [account, standInToken, reward]),
  ];
  // Our leaves come first, in the service's order (ascending account), so a push batch of
  // consecutive annotators is a run of consecutive leaves; the baseline's and the filler follow.
  const byAccount = (x, y) => (x.account < y.account ? -1 : x.account > y.account ? 1 : 0);
  const earners = [1, 2].map((epoch) => ({
    ours: annotators("ours", population, epoch).sort(byAccount),
    baseline: annotators("baseline", population, epoch),
  }));
  const [tree1, tree2] = earners.map(({ ours: ourEarners, baseline }) => {
    const leaves = [...ourEarners.flatMap((e) => ours.leaves(c, e)), ...baseline.flatMap(baselineLeaves)];
    const filler = annotators("filler", Math.ceil((TREE_LEAVES - leaves.length) / 2), 1).flatMap(baselineLeaves);
    return buildTree([...leaves, ...filler.slice(0, TREE_LEAVES - leaves.length)], { sortLeaves: false });
  });

  /** The first earner past the push recipients and the warm-up claimant with every proof at depth 17. */
  const claimantOf = (side, leavesOf) => {
    for (let i = BATCH_RECIPIENTS + 1; i < population; i++) {
      const atFullDepth = [tree1, tree2].every((tree, e) =>
        leavesOf(earners[e][side][i]).every(({ key }) => tree.depth(key) === PROOF_DEPTH),
      );
      if (atFullDepth) return i;
    }
    throw new Error("no earner at full depth");
  };
  const ourClaimant = claimantOf("ours", (e) => ours.leaves(c, e));
  const baselineClaimant = claimantOf("baseline", baselineLeaves);

  // Datasets: D0 pays epochs 1 and 2; D1..D10 and D11 pay the posting measurements.
  log("funding datasets");
  const epochOnePayment = totalPayment(earners[0].ours);
  const epochTwoPayment = totalPayment(earners[1].ours);
  const funder = buyers[0];
  const withFees = (amount) => amount + (amount * FEE_BPS) / 10_000n; // the fee is taken on top of the debit
  await payment.mint(funder.address, withFees(epochTwoPayment) + 20n * DATASET_FUNDING);
  await payment.connect(funder).approve(c.escrowAddress, ethers.MaxUint256);
  const datasetIds = [];
  for (let i = 0; i < 12; i++) {
    const salt = ethers.id(`gas report dataset ${i}`);
    const tx = await ours.createAndFund(c, funder, salt, i === 0 ? withFees(epochTwoPayment) : DATASET_FUNDING);
    datasetIds.push(await ours.datasetIdOf(c, tx));
  }

  // Create and fund: a buyer who already holds dUSD (its balance slot exists and stays non-zero),
  // approving exactly the amount first (reported as information).
  const buyer = buyers[1];
  await payment.mint(buyer.address, 3n * DATASET_FUNDING);
  await m.record("ours.approve", () => ours.approve(c, buyer, DATASET_FUNDING));
  await m.record("ours.createAndFund", () =>
    ours.createAndFund(c, buyer, ethers.id("gas report: measured dataset"), DATASET_FUNDING),
  );

  // Epochs 1 and 2: first claim and push to new holders, later claim and push to existing holders.
  // Another annotator claims first, so no one-time slot (LABEL's total supply) lands on the measure.
  log("claims and pushes");
  const pushed = (epoch) => earners[epoch - 1].ours.slice(0, BATCH_RECIPIENTS);
  await ours.postEpoch(c, 1n, tree1.root, [datasetIds[0]], [epochOnePayment]);
  await ours.makeClaimable(c);
  await ours.claim(c, tree1, earners[0].ours[BATCH_RECIPIENTS]);
  await m.record("ours.claim.first", () => ours.claim(c, tree1, earners[0].ours[ourClaimant]));
  if (ours.pushPayout) await measurePush(m, c, "ours.push.new", 1n, tree1, pushed(1));
  await ours.postEpoch(c, 2n, tree2.root, [datasetIds[0]], [epochTwoPayment - epochOnePayment]);
  await ours.makeClaimable(c);
  await m.record("ours.claim.later", () => ours.claim(c, tree2, earners[1].ours[ourClaimant]));
  if (ours.pushPayout) await measurePush(m, c, "ours.push.existing", 2n, tree2, pushed(2));

  // Posting: each dataset's first debit, then the same datasets debited again. Epoch 3 debits
  // nothing and is not measured: it is the pending epoch the first measured post accepts.
  log("epochs");
  await ours.postEpoch(c, 3n, ethers.id("gas report epoch 3"), [], []);
  const one = [datasetIds[1]];
  const ten = datasetIds.slice(2, 12);
  const post = (key, epoch, ids, debit) =>
    m.record(key, () =>
      ours.postEpoch(
        c,
        epoch,
        ethers.id(`gas report epoch ${epoch}`),
        ids,
        ids.map(() => debit),
      ),
    );
  await post("ours.postEpoch.firstDebit.1", 4n, one, DEBIT);
  await post("ours.postEpoch.firstDebit.10", 5n, ten, DEBIT);
  await post("ours.postEpoch.repeatDebit.1", 6n, one, DEBIT);
  await post("ours.postEpoch.repeatDebit.10", 7n, ten, DEBIT);

  // Pull mode: the operator posts one epoch of 100k labels from 1k annotators, paid by 10
  // datasets, and nothing else; every annotator claims on its own gas.
  const labelsEach = BigInt(PULL_EPOCH_LABELS / PULL_EPOCH_ANNOTATORS);
  const pullEarners = Array.from({ length: PULL_EPOCH_ANNOTATORS }, (_, i) => ({
    account: accountAt("pull", i),
    payment: labelsEach * PAYMENT_PER_LABEL,
    reward: labelsEach * REWARD_PER_LABEL_OURS,
  }));
  const pullTree = buildTree(pullEarners.flatMap((e) => ours.leaves(c, e)));
  const pullDebit = totalPayment(pullEarners) / BigInt(PULL_EPOCH_DATASETS);
  await m.record("ours.postEpoch.pull100k", () =>
    ours.postEpoch(
      c,
      8n,
      pullTree.root,
      ten,
      ten.map(() => pullDebit),
    ),
  );

  // Information, not a budget row: proposeEpoch with nothing pending to accept, and acceptEpoch
  // alone (datasets debited before), so the parts of a steady-state post are on record.
  await ours.makeClaimable(c);
  for (const [epoch, ids] of [
    [9n, one],
    [10n, ten],
  ]) {
    const propose = ids.length === 1 ? "1" : "10";
    const proposeTx = await c.ledger
      .connect(c.operator)
      .proposeEpoch(epoch, id(`gas report epoch ${epoch}`), id(`label root ${epoch}`), id(`content ${epoch}`), ids, ids.map(() => DEBIT));
    await m.record(`info.proposeEpochOnly.${propose}`, () => proposeTx);
    await time.increase(TIMELOCK);
    if (ids.length === 1) await m.record("info.acceptEpochOnly", () => c.ledger.connect(c.operator).acceptEpoch());
    else await (await c.ledger.connect(c.operator).acceptEpoch()).wait();
  }

  // Baseline: Morpho-style claims, one per token, first then later.
  log("baselines");
  await payment.mint(await morpho.getAddress(), totalPayment(earners[1].baseline));
  await labelStandIn.mint(
    await morpho.getAddress(),
    earners[1].baseline.reduce((sum, e) => sum + e.reward, 0n),
  );
  /** One Morpho-style claim: `which` is "payment" (dUSD) or "reward" (the LABEL stand-in). */
  const morphoClaim = (tree, earner, which) => {
    const token = which === "payment" ? c.paymentToken : standInToken;
    const proof = tree.proof(tokenLeafKey(earner.account, token));
    return morpho.connect(relayer).claim(earner.account, token, earner[which], proof);
  };
  await morpho.connect(operator).setRoot(tree1.root);
  for (const which of ["payment", "reward"]) await morphoClaim(tree1, earners[0].baseline[BATCH_RECIPIENTS], which);
  for (const [epoch, tree, when] of [
    [1, tree1, "first"],
    [2, tree2, "later"],
  ]) {
    if (epoch === 2) await morpho.connect(operator).setRoot(tree2.root);
    const earner = earners[epoch - 1].baseline[baselineClaimant];
    await m.record(`baseline.morphoClaim.dUSD.${when}`, () => morphoClaim(tree, earner, "payment"));
    await m.record(`baseline.morphoClaim.LABEL.${when}`, () => morphoClaim(tree, earner, "reward"));
  }

  // Baseline: bare batches of 100, one per token, to new holders and then to the same holders.
  const bareRecipients = Array.from({ length: BATCH_RECIPIENTS }, (_, i) => accountAt("bare", i));
  const increments = (epoch, perLabel) =>
    bareRecipients.map((_, i) => (labelsEarned(i, epoch) - (epoch > 1 ? labelsEarned(i, epoch - 1) : 0n)) * perLabel);
  await payment.mint(await bare.getAddress(), 10n * DATASET_FUNDING);
  await labelStandIn.mint(await bare.getAddress(), ethers.parseEther("1000000"));
  for (const [epoch, holders] of [
    [1, "new"],
    [2, "existing"],
  ]) {
    await m.record(`baseline.bare.dUSD.${holders}`, () =>
      bare.connect(operator).bulkPayOut(c.paymentToken, bareRecipients, increments(epoch, PAYMENT_PER_LABEL)),
    );
    await m.record(`baseline.bare.LABEL.${holders}`, () =>
      bare.connect(operator).bulkPayOut(standInToken, bareRecipients, increments(epoch, REWARD_PER_LABEL)),
    );
  }
  log("claim shapes");
  await measureClaimShapes(m, c, deployer, funder);
  log("done");
  return m;
}

// ---------------------------------------------------------------------------------------------
// Claim shapes (issue 15): what an annotator sends for entitlements in 1, 2 and 3 payment
// tokens, the way the claim bundle does (`claim` for one leaf, `claimMany` with one multiproof for
// several) and the other way (`claimMany` of one leaf; one `claim` per leaf), with the calldata
// and, from ledger/chain/l1fee.py, the L1 data fee each costs on an L2.
// ---------------------------------------------------------------------------------------------

const SHAPE_TREE_LEAVES = 10_000;
const SHAPE_PAYMENT = 12_345_678n; // 12.345678 of each payment token
const SHAPE_REWARD = 2_345_678n; // 2.345678 LABEL
const SHAPE_NETWORKS = ["base", "optimism", "arbitrum-one"];
const L2_GAS_PRICE_WEI = 10_000_000n; // 0.01 gwei: an assumed L2 base fee + tip on all three
const PYTHON = path.join(ROOT_DIR, ".venv", "bin", "python");

/** Lists two more payment tokens, posts an epoch paying fresh annotators in 1-3 tokens, and
 * measures each shape's claims, every annotator claiming for the first time. */
async function measureClaimShapes(m, c, deployer, funder) {
  const tokens = [c.payment];
  for (const name of ["dUSD-2", "dUSD-3"]) {
    const token = await ethers.deployContract("DevStablecoin", [], deployer);
    const address = await token.getAddress();
    await (await c.ledger.connect(deployer).listToken(address)).wait();
    m.names.set(address.toLowerCase(), name);
    tokens.push(token);
  }
  const indexOf = async (token) => BigInt(await c.ledger.tokenIndexOf(await token.getAddress()));
  const indices = await Promise.all(tokens.map(indexOf));
  if (String(indices) !== "1,2,3") throw new Error(`unexpected token indices ${indices}`);

  // Per shape k: one annotator claims as the bundle does, another the other way; each has a leaf
  // in tokens 1..k. Filler annotators (one leaf each, token 1) make the tree realistic in depth.
  const shapes = [1, 2, 3].map((k) => ({
    k,
    bundle: accountAt("shape-bundle", k),
    other: accountAt("shape-other", k),
    tokens: indices.slice(0, k),
  }));
  const entries = [];
  for (const shape of shapes) {
    for (const account of [shape.bundle, shape.other]) {
      for (const token of shape.tokens) entries.push({ account, token });
    }
  }
  for (let i = 0; entries.length < SHAPE_TREE_LEAVES; i++) {
    entries.push({ account: accountAt("shape-filler", i), token: 1n });
  }
  // the service's order: by account, then token, so an annotator's leaves are neighbours
  entries.sort((x, y) => (x.account < y.account ? -1 : x.account > y.account ? 1 : Number(x.token - y.token)));
  const tree = buildTree(
    entries.map(({ account, token }) => leaf(tokenLeafKey(account, token), [account, token, SHAPE_PAYMENT, SHAPE_REWARD])),
    { sortLeaves: false },
  );

  // Datasets paying in tokens 2 and 3 (token 1's escrow already owes plenty), then the epoch.
  const datasets = [];
  const debits = [];
  for (const [position, token] of tokens.entries()) {
    if (position === 0) continue;
    const claimed = BigInt(shapes.filter((s) => s.k > position).length * 2) * SHAPE_PAYMENT;
    const funding = claimed * 2n;
    await (await token.mint(funder.address, funding)).wait();
    await (await token.connect(funder).approve(c.ledgerAddress, funding)).wait();
    const tx = await c.ledger.connect(funder).createAndFund(id(`claim shapes ${position}`), indices[position], funding);
    datasets.push(await ours.datasetIdOf(c, tx));
    debits.push(claimed);
  }
  await (await (await ours.postEpoch(c, 11n, tree.root, datasets, debits))[0]).wait();
  await ours.makeClaimable(c);

  const claimOne = (account, token) =>
    c.ledger.connect(c.relayer).claim(account, token, SHAPE_PAYMENT, SHAPE_REWARD, tree.proof(tokenLeafKey(account, token)));
  const claimMany = (account, tokenIndices) => {
    const { keys, proof, proofFlags } = tree.multiProof(tokenIndices.map((t) => tokenLeafKey(account, t)));
    const leaves = keys.map((key) => ({
      account,
      token: BigInt(key.split(":")[1]),
      cumulativePayment: SHAPE_PAYMENT,
      cumulativeReward: SHAPE_REWARD,
    }));
    return c.ledger.connect(c.relayer).claimMany(leaves, proof, proofFlags);
  };
  for (const shape of shapes) {
    if (shape.k === 1) {
      await m.record("shapes.claim.1", () => claimOne(shape.bundle, 1n));
      await m.record("shapes.claimMany.1", () => claimMany(shape.other, [1n]));
    } else {
      await m.record(`shapes.claimMany.${shape.k}`, () => claimMany(shape.bundle, shape.tokens));
      await m.record(`shapes.claimEach.${shape.k}`, async () => {
        const sent = [];
        for (const token of shape.tokens) sent.push(await claimOne(shape.other, token));
        return sent;
      });
    }
  }
}

/** The L1 data fee of every claim-shape and push measurement, from ledger/chain/l1fee.py. */
function l1Fees(m) {
  if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run ./scripts/setup first`);
  const keys = [...m.calls.keys()].filter((key) => key.startsWith("shapes.") || key === "ours.push.new");
  const request = { networks: SHAPE_NETWORKS, calls: Object.fromEntries(keys.map((key) => [key, m.calls.get(key)])) };
  const answer = execFileSync(PYTHON, ["-m", "ledger.chain.l1fee"], {
    cwd: ROOT_DIR,
    input: JSON.stringify(request),
    encoding: "utf8",
  });
  return JSON.parse(answer);
}

/** Each claim shape both ways: gas, calldata, L1 fees and the total per network, and whether
 * the bundle's call is the cheaper one everywhere. */
function claimShapes(m) {
  const fees = l1Fees(m);
  const row = (key, call, units) => {
    const p = m.get(key);
    const l1 = fees.calls[key];
    const perNetwork = Object.fromEntries(
      SHAPE_NETWORKS.map((name) => {
        const l1Wei = BigInt(l1.networks[name].feeWei) / BigInt(units);
        const l2Wei = (BigInt(p.gas) * L2_GAS_PRICE_WEI) / BigInt(units);
        return [name, { l1Wei, totalWei: l1Wei + l2Wei, compressed: Math.round(l1.networks[name].compressedBytes / units) }];
      }),
    );
    return { key, call, txs: p.txs, calldataBytes: Math.round(l1.calldataBytes / units), gas: Math.round(p.gas / units), perNetwork };
  };
  const cases = [
    { tokens: 1, bundle: row("shapes.claim.1", "claim", 1), other: row("shapes.claimMany.1", "claimMany (1 leaf)", 1) },
    ...[2, 3].map((k) => ({
      tokens: k,
      bundle: row(`shapes.claimMany.${k}`, `claimMany (${k} leaves, one multiproof)`, 1),
      other: row(`shapes.claimEach.${k}`, `claim x ${k}`, 1),
    })),
  ];
  for (const c of cases) {
    c.cheapest =
      c.bundle.gas <= c.other.gas &&
      SHAPE_NETWORKS.every((name) => c.bundle.perNetwork[name].totalWei <= c.other.perNetwork[name].totalWei);
  }
  const push = row("ours.push.new", `claimMany, ${BATCH_RECIPIENTS} annotators (push), per annotator`, BATCH_RECIPIENTS);
  return { cases, push, assumptions: fees.assumptions };
}

const gweiOf = (wei) => `${(Number(wei) / 1e9).toFixed(1)}`;

function claimShapesSection(shapes) {
  const header = [
    "tokens",
    "call",
    "txs",
    "calldata bytes",
    "L2 gas",
    ...SHAPE_NETWORKS.map((n) => `${n}: compressed bytes / L1 fee / total`),
    "sent by the bundle",
  ];
  const line = (tokens, r, bundle, cheapest) => [
    tokens,
    r.call,
    r.txs,
    r.calldataBytes,
    r.gas,
    ...SHAPE_NETWORKS.map((n) => `${r.perNetwork[n].compressed} / ${gweiOf(r.perNetwork[n].l1Wei)} / ${gweiOf(r.perNetwork[n].totalWei)}`),
    bundle ? (cheapest ? "**yes, cheapest**" : "**yes, NOT CHEAPEST**") : "no",
  ];
  const rows = [];
  for (const c of shapes.cases) {
    rows.push(line(c.tokens, c.bundle, true, c.cheapest));
    rows.push(line(c.tokens, c.other, false));
  }
  rows.push(line("-", shapes.push, false));
  return `## Claims on an L2: calldata and the L1 data fee

What an annotator's claim transaction costs on a rollup, where the L1 data fee (posting the
transaction's bytes to Ethereum) is most of it. Entitlements in 1, 2 and 3 payment tokens
(tokens 2 and 3 are more dUSD-like tokens listed for this), each claimed by a fresh annotator in a
tree of ${SHAPE_TREE_LEAVES.toLocaleString("en-US")} leaves ordered as the service orders them (account, then token): as
the claim bundle sends it (\`claim\` for one leaf, \`claimMany\` with one multiproof for several) and
the other way. Fees in gwei (10^-9 ETH) per annotator; "total" adds the L2 gas at an assumed
${Number(L2_GAS_PRICE_WEI) / 1e9} gwei per gas. L1 fees from \`ledger/chain/l1fee.py\` (OP stack: the Fjord formula over the
FastLZ size; Arbitrum: ArbOS L1 pricing per compressed byte), on a typical signed type-2
transaction carrying each call, at these assumed prices:

${SHAPE_NETWORKS.map((n) => `- ${n}: ${shapes.assumptions[n]}`).join("\n")}

${markdownTable(header, rows)}

${
  shapes.cases.every((c) => c.cheapest)
    ? "The bundle's call is the cheapest for every case, in L2 gas and in total on every network."
    : "**The bundle's call is not the cheapest for every case: see the rows marked NOT CHEAPEST.**"
}`;
}

/** Measures a push of both tokens to `earners`, then re-sends it: a second payment fails the row. */
async function measurePush(m, c, key, epoch, tree, earners) {
  await m.record(key, () => ours.pushPayout(c, epoch, tree, earners));
  const balances = async () => (await Promise.all(earners.map((e) => ours.balances(c, e.account)))).flat();
  const paid = await balances();
  try {
    for (const tx of [].concat(await ours.pushPayout(c, epoch, tree, earners))) await tx.wait();
  } catch {
    // a re-send the contract refuses pays nothing either
  }
  const after = await balances();
  m.notes.set(key, after.every((balance, i) => balance === paid[i]) ? "never pays twice" : "PAYS TWICE when re-sent");
}

// ---------------------------------------------------------------------------------------------
// Budgets: each row is our figure against a limit derived from the baseline (or absolute)
// ---------------------------------------------------------------------------------------------

const K = (gas) => `${(gas / 1000).toFixed(1)}k`;
const fmt = (gas) => (gas >= 1000 ? K(gas) : gas.toFixed(gas < 10 ? 2 : 0));

const ROWS = [
  {
    key: "claimFirst",
    operation: "one claim paying both tokens, first",
    ours: { keys: ["ours.claim.first"], units: 1 },
    baseline: { keys: ["baseline.morphoClaim.dUSD.first", "baseline.morphoClaim.LABEL.first"], units: 1 },
    ratio: 0.7,
    budget: "<= 0.70x of two baseline claims",
    reference: "peers ~85-95k per single-token first claim",
  },
  {
    key: "claimLater",
    operation: "one claim paying both tokens, later",
    ours: { keys: ["ours.claim.later"], units: 1 },
    baseline: { keys: ["baseline.morphoClaim.dUSD.later", "baseline.morphoClaim.LABEL.later"], units: 1 },
    ratio: 0.65,
    budget: "<= 0.65x of two baseline claims",
    reference: "peers ~54k per single-token later claim",
  },
  {
    key: "pushNewHolder",
    operation: "push payout per annotator (both tokens), new holder",
    ours: { keys: ["ours.push.new"], units: BATCH_RECIPIENTS },
    baseline: { keys: ["baseline.bare.dUSD.new", "baseline.bare.LABEL.new"], units: BATCH_RECIPIENTS },
    ratio: 1.3,
    budget: "<= 1.3x of the bare batch, never paying twice",
    reference: "HUMAN bulkPayOut ~27.5k per token",
  },
  {
    key: "pushExistingHolder",
    operation: "push payout per annotator (both tokens), existing holder",
    ours: { keys: ["ours.push.existing"], units: BATCH_RECIPIENTS },
    baseline: { keys: ["baseline.bare.dUSD.existing", "baseline.bare.LABEL.existing"], units: BATCH_RECIPIENTS },
    ratio: 1.3,
    budget: "<= 1.3x of the bare batch, never paying twice",
    reference: "HUMAN bulkPayOut ~10.4k per token",
  },
  {
    key: "postEpochRepeatDebit",
    operation: "posting an epoch, datasets debited before",
    epochs: ["ours.postEpoch.repeatDebit.1", "ours.postEpoch.repeatDebit.10"],
    budget: "<= 80k + 25k per debited dataset",
  },
  {
    key: "postEpochFirstDebit",
    operation: "posting an epoch, each dataset's first debit",
    epochs: ["ours.postEpoch.firstDebit.1", "ours.postEpoch.firstDebit.10"],
    budget: "<= 80k + 25k per debited dataset",
  },
  {
    key: "createAndFund",
    operation: "create and fund a dataset (approve done)",
    ours: { keys: ["ours.createAndFund"], units: 1 },
    absolute: 150_000,
    budget: "<= 150k",
    reference: "a per-job escrow deployment ~2.6M",
  },
  {
    key: "operatorGasPerLabel",
    operation: "operator gas per paid label, 100k labels / 1k annotators, pull",
    ours: { keys: ["ours.postEpoch.pull100k"], units: PULL_EPOCH_LABELS },
    baseline: {
      keys: ["baseline.bare.dUSD.new", "baseline.bare.LABEL.new"],
      units: BATCH_RECIPIENTS * LABELS_PER_RECIPIENT,
    },
    absolute: 2,
    slotGapPer: "post", // slots to drop are counted per posting transaction, not per label
    budget: "<= 2 gas per label",
    reference: "push ~275 gas per label per token at 100 labels each",
  },
];

const EPOCH_BASE = 80_000;
const EPOCH_PER_DATASET = 25_000;

/** Our figure, the baseline's, the limit and the verdict of one row. */
function evaluate(row, m) {
  if (row.epochs) {
    const [one, ten] = row.epochs.map((key) => m.get(key).gas);
    const perDataset = Math.round((ten - one) / 9);
    const base = one - perDataset;
    const [limitOne, limitTen] = [1, 10].map((n) => EPOCH_BASE + EPOCH_PER_DATASET * n);
    const pass = one <= limitOne && ten <= limitTen && perDataset <= EPOCH_PER_DATASET;
    return {
      ours: `${K(one)} (1) / ${K(ten)} (10): ${K(base)} + ${K(perDataset)}/dataset`,
      baseline: "-",
      ratio: "-",
      limit: `${K(limitOne)} / ${K(limitTen)}`,
      status: pass ? "PASS" : "FAIL",
      snapshot: { baseFit: base, gasOne: one, gasTen: ten, limitOne, limitTen, perDatasetFit: perDataset },
    };
  }
  const baseline = row.baseline && m.sum(row.baseline.keys);
  const baselinePerUnit = baseline && baseline.gas / row.baseline.units;
  const limitGas = row.ratio
    ? Math.floor(row.ratio * baseline.gas * (row.ours.units / row.baseline.units))
    : row.absolute * row.ours.units;
  const limitPerUnit = limitGas / row.ours.units;
  const implemented = row.ours.keys.every((key) => m.has(key));
  const snapshot = { limitGas, units: row.ours.units };
  if (baseline) Object.assign(snapshot, { baselineGas: baseline.gas, baselineUnits: row.baseline.units });
  if (!implemented) {
    return {
      ours: "not implemented",
      baseline: fmt(baselinePerUnit),
      ratio: "-",
      limit: fmt(limitPerUnit),
      status: "NOT IMPLEMENTED",
      snapshot,
    };
  }
  const oursTotal = m.sum(row.ours.keys);
  const note = row.ours.keys.map((key) => m.notes.get(key)).find(Boolean);
  const paysTwice = note && note.startsWith("PAYS TWICE");
  snapshot.oursGas = oursTotal.gas;
  return {
    ours: fmt(oursTotal.gas / row.ours.units) + (paysTwice ? " (pays twice)" : ""),
    baseline: baseline ? fmt(baselinePerUnit) : "-",
    ratio: baseline ? `${(oursTotal.gas / row.ours.units / baselinePerUnit).toFixed(3)}x` : "-",
    limit: fmt(limitPerUnit),
    status: oursTotal.gas <= limitGas && !paysTwice ? "PASS" : "FAIL",
    snapshot,
  };
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

function markdownTable(header, rows) {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

/** JSON with keys sorted at every level, so the committed snapshot diffs cleanly. */
function stableJson(value) {
  const sort = (v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, sort(v[k])]),
        )
      : v;
  return JSON.stringify(sort(value), null, 2) + "\n";
}

function snapshotOf(m, results, shapes) {
  const measurements = {};
  for (const [key, p] of m.byKey) {
    const { newBy, updatedBy, ...counts } = p;
    measurements[key] = counts;
  }
  return {
    config: {
      batchRecipients: BATCH_RECIPIENTS,
      proofDepth: PROOF_DEPTH,
      pullEpochAnnotators: PULL_EPOCH_ANNOTATORS,
      pullEpochDatasets: PULL_EPOCH_DATASETS,
      pullEpochLabels: PULL_EPOCH_LABELS,
      treeLeaves: TREE_LEAVES,
    },
    measurements,
    rows: Object.fromEntries(results.map(({ row, result }) => [row.key, result.snapshot])),
    claimShapes: Object.fromEntries(
      [...shapes.cases.flatMap((c) => [c.bundle, c.other]), shapes.push].map((r) => [
        r.key,
        {
          calldataBytes: r.calldataBytes,
          gas: r.gas,
          l1FeeWei: Object.fromEntries(SHAPE_NETWORKS.map((n) => [n, String(r.perNetwork[n].l1Wei)])),
        },
      ]),
    ),
  };
}

const byContract = (counts) =>
  Object.entries(counts)
    .sort()
    .map(([name, n]) => `${name} ${n}`)
    .join(", ") || "-";

function profileTable(m) {
  return markdownTable(
    [
      "measurement",
      "txs",
      "calldata bytes (non-zero)",
      "calldata gas",
      "new slots",
      "updated slots",
      "cold reads",
      "cold contracts",
      "calls",
      "events (gas)",
      "floor",
      "gas",
      "above floor",
    ],
    [...m.byKey].map(([key, p]) => [
      `\`${key}\``,
      p.txs,
      `${p.calldataBytes} (${p.calldataNonZero})`,
      p.calldataGas,
      `${p.newSlots}: ${byContract(p.newBy)}`,
      `${p.updatedSlots}: ${byContract(p.updatedBy)}`,
      p.coldReads,
      p.coldAccounts,
      p.calls,
      `${p.logs} (${p.logGas})`,
      p.floor,
      p.gas,
      p.gas - p.floor,
    ]),
  );
}

/** The storage-floor arithmetic of one row, per unit, for ours and the baseline. */
function floorLines(row, result, m) {
  const describe = (who, keys, units) => {
    const p = m.sum(keys);
    const per = (x) => (units === 1 ? `${x}` : `${x}/${units}`);
    const floorPerUnit = p.floor / units;
    return (
      `${who}: ${p.txs} x 21,000 + calldata ${p.calldataGas} (${p.calldataBytes} bytes, ${p.calldataNonZero} non-zero)` +
      ` + ${p.newSlots} new x 22,100 + ${p.updatedSlots} updated x 5,000` +
      ` + ${p.coldReads} cold reads x 2,100 + ${p.coldAccounts} cold contracts x 2,600` +
      ` = floor ${per(p.floor)} = **${fmt(floorPerUnit)}**; measured ${fmt(p.gas / units)}` +
      `, ${(((p.gas - p.floor) / p.gas) * 100).toFixed(0)}% of it execution above the floor (hashing, events, ABI, checks)`
    );
  };
  const lines = [];
  if (row.epochs) {
    for (const key of row.epochs) lines.push(describe(`\`${key}\``, [key], 1));
    return lines;
  }
  const implemented = row.ours.keys.every((key) => m.has(key));
  if (implemented) {
    lines.push(describe("ours", row.ours.keys, row.ours.units));
    const floorPerUnit = m.sum(row.ours.keys).floor / row.ours.units;
    const limitPerUnit = result.snapshot.limitGas / row.ours.units;
    const [gap, per] = row.slotGapPer
      ? [m.sum(row.ours.keys).floor - result.snapshot.limitGas, row.slotGapPer]
      : [floorPerUnit - limitPerUnit, row.ours.units === 1 ? "claim" : "annotator"];
    lines.push(
      floorPerUnit > limitPerUnit
        ? `floor ${fmt(floorPerUnit)} > limit ${fmt(limitPerUnit)}: **no code-level optimisation of this design can ` +
            `pass**; it must shed ${fmt(gap)} per ${per}, at least ${Math.ceil(gap / GAS.newSlot)} new slot(s) or ` +
            `${Math.ceil(gap / GAS.updatedSlot)} updated slot(s) (or the equivalent in calldata, cold reads and calls)`
        : `floor ${fmt(floorPerUnit)} <= limit ${fmt(limitPerUnit)}: reachable with this storage layout` +
            (result.status === "FAIL"
              ? `, by cutting ${fmt(m.sum(row.ours.keys).gas / row.ours.units - limitPerUnit)} of execution overhead`
              : ""),
    );
  }
  if (row.baseline) lines.push(describe("baseline", row.baseline.keys, row.baseline.units));
  return lines;
}

function renderReport(m, results, notes, shapes) {
  const table = markdownTable(
    ["operation", "ours", "baseline", "ratio", "budget", "limit", "result", "for reference"],
    results.map(({ row, result }) => [
      row.operation,
      result.ours,
      result.baseline,
      result.ratio,
      row.budget,
      result.limit,
      `**${result.status}**`,
      row.reference ?? "",
    ]),
  );
  const approve = m.get("ours.approve");
  return `# Gas report

The core contract (\`contracts/LabelLedger.sol\`, design in \`docs/design/contracts-v2.md\`) against
issue 3's budgets. Generated by \`npm run gas\` (\`npx hardhat run scripts/gas-report.js\`); do not
edit by hand. \`GAS_CHECK_SNAPSHOT=1\` writes nothing and fails when the fresh figures differ from
\`gas-snapshot.json\` or from this file; \`GAS_ENFORCE=1\` fails when an implemented row misses its
budget.

## Summary

${notes.summary}

## Budgets

${table}

"limit" is the budget in gas for the row's unit (per claim, per annotator, per label). Approving the
escrow before \`createAndFund\` (exact amount, a new allowance slot) costs ${approve.gas} more, as information.

## How measured

- In-process Hardhat network, hardfork cancun, solc 0.8.28 (optimizer 10,000 runs), one transaction
  per block. Every figure is the receipt's \`gasUsed\`: the whole transaction, 21,000 base and
  calldata included, for ours and for the baselines alike.
- Trees: one OpenZeppelin StandardMerkleTree (standard-v1) of ${TREE_LEAVES.toLocaleString("en-US")} leaves per
  epoch, posted to our distributor and to the baseline alike: ${(TREE_LEAVES / 4).toLocaleString("en-US")} of our annotators
  (leaves as \`ours.leaves\` makes them) and ${(TREE_LEAVES / 4).toLocaleString("en-US")} of the baseline's (\`(address account,
  address token, uint256 cumulative)\`), distinct realistic addresses. Every proof measured has depth
  ${PROOF_DEPTH}. The trees are built by a local sorted-pair implementation checked against
  \`@openzeppelin/merkle-tree\` on every run, and the claims verify the proofs on chain.
- Claims: a fresh account (no balance in either token) claims in epoch 1 ("first"); epoch 2 raises
  both cumulatives and the same account, still holding both tokens, claims again ("later"). The
  baseline is \`contracts/test/baselines/MorphoStyleDistributor.sol\` claiming dUSD and a second
  plain OpenZeppelin ERC20 (\`contracts/test/baselines/StandInToken.sol\`, the LABEL stand-in, pre-funded to the distributor), one claim per token, same
  accounts conditions; "two baseline claims" is their sum.
- Push: \`contracts/test/baselines/BareBatchTransfer.sol\` pays ${BATCH_RECIPIENTS} fresh recipients
  in dUSD and in the LABEL stand-in (two transactions), then the same recipients again; per annotator
  = (batch A + batch B) / ${BATCH_RECIPIENTS}. Our push row is measured by \`ours.pushPayout\` in the
  script and re-sent to check that it never pays twice.
- Our design: one payout leaf per annotator \`(address account, uint16 token, uint256 payment,
  uint256 reward)\`, so a claim carries one proof; LABEL has 6 decimals (our rewards are 0.1 LABEL
  per label in 6-decimal units; the baseline's stand-in keeps 18); the fee is ${FEE_BPS} bps on top of
  each debit. **Posting an epoch** is measured in the steady state: one proposeEpoch that first
  accepts the previous epoch, whose ${TIMELOCK} s timelock has passed (anyone may also send
  acceptEpoch earlier; that is not operator gas). Push is \`claimMany\` with one OpenZeppelin multiproof for 100 annotators
  that are consecutive in the tree: the service orders payout leaves by account (the library's
  \`sortLeaves: false\`), so a push batch in that order is a run of consecutive leaves whose multiproof
  is a few hashes; the trees here are built the same way (our leaves first, in account order).
- Posting: the operator posts epochs debiting 1 and then 10 datasets, first for each dataset's first
  debit ever, then again for datasets debited before; base and per-dataset figures are the straight
  line through the two points, and a row passes when both points and the slope are within
  80k + 25k per dataset. \`owed[dUSD]\` is already non-zero.
- Create and fund: a buyer whose dUSD balance slot exists (and stays non-zero) creates and funds a
  new dataset; the escrow already holds dUSD.
- Operator gas per label, pull mode: the one transaction the operator sends for an epoch of
  ${PULL_EPOCH_LABELS.toLocaleString("en-US")} labels from ${PULL_EPOCH_ANNOTATORS.toLocaleString("en-US")} annotators
  (root of their entitlements, ${PULL_EPOCH_DATASETS} datasets debited, each debited before), divided by
  ${PULL_EPOCH_LABELS.toLocaleString("en-US")}. The baseline column is the bare push of both tokens to new
  holders at ${LABELS_PER_RECIPIENT} labels each.
- Floor: each measured transaction is traced (\`debug_traceTransaction\`); every slot it wrote is
  classified by its value before and after the block: zero to non-zero is a **new** slot (22,100 with
  the cold access), non-zero to another value an **updated** one (5,000); **cold contracts** are the
  contracts called other than the transaction's target (2,600 each); **cold reads** are slots read
  and not written (2,100 each). floor = 21,000 per transaction + calldata (16 per non-zero byte, 4 per
  zero byte) + 22,100 x new + 5,000 x updated + 2,100 x cold reads + 2,600 x cold contracts. It is
  what the design's storage layout and call graph cost before any execution; what is left ("above
  floor") is execution: proof hashing, events, ABI decoding, memory, checks. Refunds (a slot cleared)
  are in the measured gas but not credited in the floor.

${claimShapesSection(shapes)}

## Storage floor of each row

${results
  .map(
    ({ row, result }) =>
      `**${row.operation}** (${result.status})\n\n${floorLines(row, result, m)
        .map((l) => `- ${l}`)
        .join("\n")}`,
  )
  .join("\n\n")}

## Every measured transaction

${profileTable(m)}

${notes.analysis}
`;
}

// ---------------------------------------------------------------------------------------------
// Design arithmetic: the floor each candidate layout implies, from EVM constants and this run's
// baseline figures, against the limits measured above. Estimates, not measurements: a design's
// real gas is its floor plus its execution, and a layout whose floor leaves less headroom than a
// lean contract's measured execution cannot meet the budget however well it is coded. Each section
// is written only while its rows fail or are not implemented.
// ---------------------------------------------------------------------------------------------

const ADDRESS_WORD_CALLDATA = 20 * GAS.calldataNonZeroByte + 12 * GAS.calldataZeroByte; // 368
const SELECTOR_CALLDATA = 4 * GAS.calldataNonZeroByte;
const AMOUNT_WORD_CALLDATA = 8 * GAS.calldataNonZeroByte + 24 * GAS.calldataZeroByte; // an 8-byte amount

/** How a layout's floor compares with a limit, given the execution a lean contract needs. */
function verdict(limit, floor, needed) {
  const headroom = limit - floor;
  if (headroom < 0) return { feasible: false, text: `impossible: floor ${K(-headroom)} over the limit` };
  if (headroom < needed) return { feasible: false, text: `no: ${K(headroom)} left, execution needs ~${K(needed)}` };
  return { feasible: true, text: `yes: ${K(headroom)} left for ~${K(needed)} of execution` };
}

function claimDesigns(m, limit) {
  const claims = ["first", "later"].flatMap((when) =>
    ["dUSD", "LABEL"].map((t) => m.get(`baseline.morphoClaim.${t}.${when}`)),
  );
  const execution = Math.round(claims.reduce((sum, p) => sum + p.gas - p.floor, 0) / claims.length);
  const oneClaimCalldata = Math.round(claims.reduce((sum, p) => sum + p.calldataGas, 0) / claims.length);
  const calldata = {
    // two baseline claims' arguments in one call: one selector and one account word fewer
    2: 2 * oneClaimCalldata - SELECTOR_CALLDATA - ADDRESS_WORD_CALLDATA,
    // one leaf (account, dUSD cumulative, LABEL cumulative): one baseline claim plus one amount word
    1: oneClaimCalldata + AMOUNT_WORD_CALLDATA,
  };
  const designs = [
    {
      name: "two leaves; `claimed` in two slots of its own; LABEL minted by a call; dUSD via the escrow (the layout first measured)",
      proofs: 2,
      counterSlots: 2,
      labelCall: 1,
      escrow: 1,
    },
    {
      name: "(a): two leaves; counters packed into the annotator's LABEL balance slot; LABEL credited in place; dUSD via the escrow",
      proofs: 2,
      counterSlots: 0,
      labelCall: 0,
      escrow: 1,
    },
    {
      name: "(a) and one leaf per annotator carrying both cumulatives (one proof)",
      proofs: 1,
      counterSlots: 0,
      labelCall: 0,
      escrow: 1,
    },
    {
      name: "one leaf; both counters in one slot of their own; LABEL credited in place; dUSD held by the distributor",
      proofs: 1,
      counterSlots: 1,
      labelCall: 0,
      escrow: 0,
    },
    {
      name: "one leaf; counters packed into the LABEL balance slot; LABEL credited in place; dUSD held by the distributor",
      proofs: 1,
      counterSlots: 0,
      labelCall: 0,
      escrow: 0,
    },
  ];
  const floorOf = (d, first) => {
    const accountSlots = 2 + d.counterSlots; // dUSD balance, LABEL balance, counters
    const payerSlots = 2 + d.escrow; // payer's dUSD balance, LABEL supply, escrow's owed[dUSD]
    const coldContracts = 1 + d.escrow + d.labelCall; // dUSD, escrow, LABEL
    return (
      GAS.transaction +
      calldata[d.proofs] +
      (first
        ? accountSlots * GAS.newSlot + payerSlots * GAS.updatedSlot
        : (accountSlots + payerSlots) * GAS.updatedSlot) +
      GAS.coldRead + // the root
      coldContracts * GAS.coldAccount
    );
  };
  return {
    execution,
    calldata,
    events: claims[0].logs,
    eventGas: claims[0].logGas,
    designs: designs.map((d) => {
      const [first, later] = [floorOf(d, true), floorOf(d, false)];
      return {
        ...d,
        first,
        later,
        firstVerdict: verdict(limit.claimFirst, first, execution),
        laterVerdict: verdict(limit.claimLater, later, execution),
      };
    }),
  };
}

function pushDesigns(m, limit) {
  const [bareNew, bareExisting] = ["new", "existing"].map((h) =>
    m.sum([`baseline.bare.dUSD.${h}`, `baseline.bare.LABEL.${h}`]),
  );
  const dusdOnly = m.get("baseline.bare.dUSD.new");
  const execution = Math.round((bareNew.gas - bareNew.floor) / BATCH_RECIPIENTS); // both transfers
  const dusdExecution = Math.round((dusdOnly.gas - dusdOnly.floor) / BATCH_RECIPIENTS); // fixed by dUSD's code
  // one batch carrying (account, dUSD amount, LABEL amount): the two bare batches' calldata less one address word
  const calldata = Math.round(bareNew.calldataGas / BATCH_RECIPIENTS) - ADDRESS_WORD_CALLDATA;
  const shared = Math.round((GAS.transaction + 2 * GAS.updatedSlot) / BATCH_RECIPIENTS); // tx, payer balance, supply
  const designs = [
    { name: "(b): counters in one slot of their own", counterSlots: 1 },
    { name: "two counters in two slots of their own (as `claimed` is stored for pull claims today)", counterSlots: 2 },
    { name: "counters packed into the annotator's LABEL balance slot", counterSlots: 0 },
  ];
  return {
    execution,
    dusdExecution,
    calldata,
    shared,
    bareNew: bareNew.gas / BATCH_RECIPIENTS,
    bareExisting: bareExisting.gas / BATCH_RECIPIENTS,
    designs: designs.map((d) => {
      const slots = 2 + d.counterSlots; // dUSD balance, LABEL balance, counters
      const first = shared + calldata + slots * GAS.newSlot;
      const later = shared + calldata + slots * GAS.updatedSlot;
      return {
        ...d,
        first,
        later,
        firstVerdict: verdict(limit.pushNewHolder, first, execution),
        laterVerdict: verdict(limit.pushExistingHolder, later, execution),
      };
    }),
  };
}

/** Savings on today's measured post, each step read off the trace so it only lists what applies. */
function postingDesigns(m) {
  const [one, ten] = ["ours.postEpoch.repeatDebit.1", "ours.postEpoch.repeatDebit.10"].map((k) => m.get(k));
  const pull = m.get("ours.postEpoch.pull100k");
  const n = PULL_EPOCH_DATASETS;
  const updatedPerDataset = Math.round((ten.updatedSlots - one.updatedSlots) / 9);
  const coldReadsPerDataset = Math.round((ten.coldReads - one.coldReads) / 9);
  const steps = [{ name: "as measured", saves: 0 }];
  if (updatedPerDataset > 1) {
    steps.push({
      name: `one slot written per dataset debit instead of ${updatedPerDataset} (e.g. \`available\` and \`debited\` as uint128 in one slot)`,
      saves: n * (updatedPerDataset - 1) * GAS.updatedSlot,
    });
  }
  if (coldReadsPerDataset > 1) {
    steps.push({
      name: `one slot read per dataset debit instead of ${coldReadsPerDataset} (e.g. the existence check on a slot read anyway, not on \`buyer\`)`,
      saves: n * (coldReadsPerDataset - 1) * GAS.coldRead,
    });
  }
  if (pull.newSlots > 0) {
    steps.push({
      name: "no new slot per epoch (keep the current root, history in the epoch event)",
      saves: pull.newSlots * (GAS.newSlot - GAS.updatedSlot),
    });
  }
  const execution = pull.gas - pull.floor;
  let floor = pull.floor;
  const rows = steps.map((step) => {
    floor -= step.saves;
    return { ...step, floor, estimate: floor + execution };
  });
  // what posting must write at the very least: the root, the epoch, owed[dUSD], one slot per dataset
  const physical = GAS.transaction + pull.calldataGas + 3 * GAS.updatedSlot + n * GAS.updatedSlot;
  return {
    rows,
    execution,
    physical,
    perDataset: Math.round((ten.gas - one.gas) / 9),
    base: one.gas - Math.round((ten.gas - one.gas) / 9),
  };
}

function analysis(m, results) {
  const result = Object.fromEntries(results.map(({ row, result: r }) => [row.key, r]));
  const limit = Object.fromEntries(
    results.map(({ row, result: r }) => [row.key, r.snapshot.limitGas / (r.snapshot.units ?? 1)]),
  );
  const open = (...keys) => keys.some((key) => result[key].status !== "PASS");
  const perLabel = (gas) => (gas / PULL_EPOCH_LABELS).toFixed(2);
  const summary = results.map(
    ({ row, result: r }) => `- **${r.status}**: ${row.operation}: ${r.ours}, limit ${r.limit}.`,
  );
  const sections = [];

  if (open("claimFirst", "claimLater")) {
    const claims = claimDesigns(m, limit);
    const [first, later] = ["ours.claim.first", "ours.claim.later"].map((k) => m.get(k));
    const leadA = claims.designs[1]; // proposal (a)
    const both = claims.designs.filter((d) => d.firstVerdict.feasible && d.laterVerdict.feasible);
    const leftover = (v) => v.text.replace(/^(yes|no): /, "");
    summary.push(
      `- **Claims**: our floor alone (storage, calldata and calls, before any execution) is ${K(first.floor)} first ` +
        `and ${K(later.floor)} later, against limits of ${K(limit.claimFirst)} and ${K(limit.claimLater)}: ` +
        `${first.floor > limit.claimFirst || later.floor > limit.claimLater ? "no code change within this layout can pass. " : ""}` +
        `Proposal (a), both counters packed into the annotator's LABEL balance slot and LABEL credited in place, ` +
        `${leadA.firstVerdict.feasible ? "fits" : "does not fit"} the first claim (${leftover(leadA.firstVerdict)}) and ` +
        `${leadA.laterVerdict.feasible ? "fits" : "does not fit"} the later one (${leftover(leadA.laterVerdict)}). ` +
        (both.length
          ? `Layouts that fit both: ${both.map((d) => `"${d.name}"`).join("; ")}.` +
            (both.some((d) => d.counterSlots > 0) ? " Packing is not strictly necessary for the claims." : "") +
            (both.every((d) => d.proofs === 1)
              ? " Every layout that fits both has one leaf (one proof) per annotator."
              : "")
          : " No layout considered fits both."),
    );
    sections.push(`### One claim paying both tokens (limits ${K(limit.claimFirst)} first, ${K(limit.claimLater)} later)

Calldata: two leaves ${claims.calldata[2]} (two baseline claims' arguments in one call), one leaf ${claims.calldata[1]}
(one baseline claim's plus one amount word). One cold read (the root). Slots: the annotator's dUSD
balance, LABEL balance and counters (new on a first claim, updated later); the payer's dUSD balance,
LABEL's total supply and, through the escrow, \`owed[dUSD]\` (updated). Cold contracts: dUSD, the
escrow, LABEL when it is minted by a call. Execution needed: ${K(claims.execution)}, what one baseline claim spends
above its floor (one depth-${PROOF_DEPTH} proof, one ERC20 transfer, one event); a two-proof design needs more.

${markdownTable(
  ["layout", "first: floor", "fits?", "later: floor", "fits?"],
  claims.designs.map((d) => [d.name, K(d.first), d.firstVerdict.text, K(d.later), d.laterVerdict.text]),
)}

Our claim as measured: floor ${K(first.floor)} / ${K(later.floor)}, and ${K(first.gas - first.floor)} / ${K(later.gas - later.floor)} of execution above it,
${K(first.logGas)} of which is its ${first.logs} events (a baseline claim spends ${K(claims.eventGas)} on ${claims.events}): every event a design
emits beyond the baseline's two costs ~${K(claims.eventGas / claims.events)} of the headroom.`);
  }

  if (open("pushNewHolder", "pushExistingHolder")) {
    const push = pushDesigns(m, limit);
    const [ownSlot, , packed] = push.designs;
    summary.push(
      `- **Push**: the bare batch measures ${K(push.bareNew)} per annotator (both tokens, new holders) and ` +
        `${K(push.bareExisting)} (existing), so the limits are ${K(limit.pushNewHolder)} and ${K(limit.pushExistingHolder)}. ` +
        `Proposal (b) checked: with the counters in a slot of their own a new holder costs three new slots ` +
        `(${K(3 * GAS.newSlot)}) plus calldata and shared costs, floor ${K(ownSlot.first)}: ` +
        `${ownSlot.firstVerdict.text} (the two transfers take ${K(push.execution)} above the floor in the bare batch, ` +
        `${K(push.dusdExecution)} of it dUSD's own code). With the counters in the LABEL balance slot: ${packed.firstVerdict.text}. ` +
        `Existing holders: own slot ${ownSlot.laterVerdict.text}; packed ${packed.laterVerdict.text}.`,
    );
    const measuredPush = ["ours.push.new", "ours.push.existing"].filter((k) => m.has(k)).map((k) => [k, m.get(k)]);
    const pushMeasured = measuredPush
      .map(
        ([k, p]) =>
          `\`${k}\`: calldata ${K(p.calldataGas / BATCH_RECIPIENTS)} per annotator (the bare batches: ${K(
            (k.endsWith("new") ? m.sum(["baseline.bare.dUSD.new", "baseline.bare.LABEL.new"]) : m.sum(["baseline.bare.dUSD.existing", "baseline.bare.LABEL.existing"])).calldataGas / BATCH_RECIPIENTS,
          )}), floor ${K(p.floor / BATCH_RECIPIENTS)}, ${p.logs / BATCH_RECIPIENTS} events (${K(p.logGas / BATCH_RECIPIENTS)}) and ${K((p.gas - p.floor - p.logGas) / BATCH_RECIPIENTS)} of other execution per annotator`,
      )
      .join("; ");
    sections.push(`### Push payout per annotator, both tokens (limits ${K(limit.pushNewHolder)} new holder, ${K(limit.pushExistingHolder)} existing)

Measured (\`claimMany\`, one OpenZeppelin multiproof of 100 consecutive leaves in the 100k-leaf tree, so
the proof nodes and the \`bool[]\` flags ride in the calldata): ${pushMeasured}. The arithmetic below
predates the multiproof: it assumes a batch that carries amounts only.

One batch of ${BATCH_RECIPIENTS} carrying (account, dUSD amount, LABEL amount): ${push.calldata} of calldata and ${push.shared} of
shared costs (transaction, payer's balance, LABEL supply) per annotator; the annotator's dUSD balance,
LABEL balance and counters are new (or updated) slots. Execution needed: ${K(push.execution)}, what the bare batch
spends above its floor per annotator on the two transfers. Never paying twice needs a per-annotator
record that moves with every payment, and since pull claims are cumulative a push must raise the same
\`claimed\` counters (or a pushed annotator could claim the same amount again): the write cannot be
skipped, only put in a slot that is written anyway. dUSD's balance slot belongs to the dUSD contract,
so that slot is the annotator's LABEL balance, e.g. uint96 LABEL balance (7.9e10 LABEL) + uint80 dUSD
claimed (1.2e18 dUSD at 6 decimals) + uint80 LABEL claimed (only 1.2e6 LABEL in wei: count it in a
coarser unit, or narrow the balance).

${markdownTable(
  ["layout (one batch, both tokens)", "new holder: floor", "fits?", "existing holder: floor", "fits?"],
  push.designs.map((d) => [d.name, K(d.first), d.firstVerdict.text, K(d.later), d.laterVerdict.text]),
)}`);
  }

  if (open("postEpochFirstDebit", "postEpochRepeatDebit", "operatorGasPerLabel")) {
    const posting = postingDesigns(m);
    const firstDebit = m.get("ours.postEpoch.firstDebit.10");
    const repeatDebit = m.get("ours.postEpoch.repeatDebit.10");
    const extraFirst = (firstDebit.gas - repeatDebit.gas) / PULL_EPOCH_DATASETS;
    const bindingAbove = (2 * PULL_EPOCH_LABELS - EPOCH_BASE) / EPOCH_PER_DATASET;
    const fits = posting.rows.find((r) => r.estimate <= limit.operatorGasPerLabel * PULL_EPOCH_LABELS);
    if (open("postEpochFirstDebit")) {
      summary.push(
        `- **Posting, first debits**: a dataset's first debit costs ${K(extraFirst)} more than a later one ` +
          `(${firstDebit.newSlots - repeatDebit.newSlots} new slots over ${PULL_EPOCH_DATASETS} datasets: a slot that starts at zero); ` +
          `a layout whose debit only updates slots that funding already made non-zero costs the later-debit figure, ${K(posting.perDataset)} per dataset.`,
      );
    }
    if (open("operatorGasPerLabel")) {
      summary.push(
        `- **Operator gas per label**: ${perLabel(m.get("ours.postEpoch.pull100k").gas)} measured, ${perLabel(m.get("ours.postEpoch.pull100k").floor)} of it floor. ` +
          `Physically possible: a post writing the root, the epoch, owed and one slot per dataset has a floor of ${perLabel(posting.physical)}. ` +
          (fits
            ? `Reached after step ${posting.rows.indexOf(fits)} of the posting table below ` +
              `(${perLabel(fits.estimate)} with today's execution). `
            : "Not reached by the steps below. ") +
          `This budget binds before the posting budget: over 100k labels it allows 200k per post, which 80k + 25k per dataset exceeds above ${bindingAbove.toFixed(1)} datasets.`,
      );
    }
    sections.push(`### Posting an epoch and operator gas per label (limit ${K(limit.operatorGasPerLabel * PULL_EPOCH_LABELS)} for ${PULL_EPOCH_LABELS.toLocaleString("en-US")} labels, ${PULL_EPOCH_DATASETS} datasets)

Today: ${K(posting.base)} + ${K(posting.perDataset)} per dataset debited before. Each step keeps the previous ones and
today's execution (${K(posting.execution)}). A steady-state post is one proposeEpoch that
also accepts the previous epoch; as information, proposeEpoch with nothing to accept measures ${K(m.get("info.proposeEpochOnly.1").gas)} (1 dataset) and
${K(m.get("info.proposeEpochOnly.10").gas)} (10 datasets, ${(m.get("info.proposeEpochOnly.10").gas / PULL_EPOCH_LABELS).toFixed(2)} gas per label at 100k labels), and acceptEpoch alone
${K(m.get("info.acceptEpochOnly").gas)}. The new slot per epoch is \`epochCommitment(epoch)\`, kept by design.

${markdownTable(
  ["posting 100k labels, 10 datasets", "floor", "floor + today's execution", "gas per label"],
  posting.rows.map((r) => [r.name, K(r.floor), K(r.estimate), perLabel(r.estimate)]),
)}

Physical floor of such a post: 21,000 + calldata ${m.get("ours.postEpoch.pull100k").calldataGas} + 3 updated slots (root, epoch, owed) +
${PULL_EPOCH_DATASETS} updated dataset slots = ${K(posting.physical)}, ${perLabel(posting.physical)} gas per label.`);
  }

  if (sections.length > 0) {
    sections.unshift(`## Design arithmetic

Arithmetic, not measurements: each candidate layout's floor (21,000 per transaction + calldata +
22,100 per new slot + 5,000 per updated slot + 2,100 per cold read + 2,600 per cold contract) against
the limits above. A layout fits when the headroom above its floor covers the execution a lean
contract was measured to spend on the same work.`);
  }
  return { summary: summary.join("\n"), analysis: sections.join("\n\n") };
}

async function main() {
  const started = Date.now();
  const m = await run();
  const results = ROWS.map((row) => ({ row, result: evaluate(row, m) }));
  const notes = analysis(m, results);
  const shapes = claimShapes(m);
  const snapshot = stableJson(snapshotOf(m, results, shapes));
  const report = renderReport(m, results, notes, shapes);

  console.log(
    markdownTable(
      ["operation", "ours", "baseline", "ratio", "budget", "limit", "result"],
      results.map(({ row, result }) => [
        row.operation,
        result.ours,
        result.baseline,
        result.ratio,
        row.budget,
        result.limit,
        result.status,
      ]),
    ),
  );
  console.error(`[gas] measured in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  let failed = false;
  if (process.env.GAS_CHECK_SNAPSHOT === "1") {
    const committed = fs.existsSync(SNAPSHOT_PATH)
      ? stableJson(JSON.parse(fs.readFileSync(SNAPSHOT_PATH, "utf8")))
      : "";
    if (committed !== snapshot) {
      console.error("[gas] gas-snapshot.json differs from this run (run npm run gas and commit the diff):");
      reportDifferences(committed ? JSON.parse(committed) : {}, JSON.parse(snapshot));
      failed = true;
    }
    const committedReport = fs.existsSync(REPORT_PATH) ? fs.readFileSync(REPORT_PATH, "utf8") : "";
    if (committedReport !== report) {
      console.error("[gas] GAS_REPORT.md is stale (run npm run gas and commit it)");
      failed = true;
    }
  } else {
    fs.writeFileSync(SNAPSHOT_PATH, snapshot);
    fs.writeFileSync(REPORT_PATH, report);
    console.error(
      `[gas] wrote ${path.relative(process.cwd(), REPORT_PATH)} and ${path.relative(process.cwd(), SNAPSHOT_PATH)}`,
    );
  }
  if (process.env.GAS_ENFORCE === "1") {
    const misses = results.filter(({ result }) => result.status === "FAIL");
    for (const { row } of misses) console.error(`[gas] over budget: ${row.operation}`);
    if (misses.length > 0) failed = true;
    for (const c of shapes.cases.filter((x) => !x.cheapest)) {
      console.error(`[gas] the bundle's call for ${c.tokens} token(s) is not the cheapest`);
      failed = true;
    }
  }
  process.exitCode = failed ? 1 : 0;
}

/** Prints every leaf that differs between two snapshots, as `path: old -> new`. */
function reportDifferences(old, fresh, prefix = "") {
  for (const key of [...new Set([...Object.keys(old ?? {}), ...Object.keys(fresh ?? {})])].sort()) {
    const [a, b] = [old?.[key], fresh?.[key]];
    if (a && b && typeof a === "object" && typeof b === "object") reportDifferences(a, b, `${prefix}${key}.`);
    else if (a !== b) {
      const show = (v) => (v === undefined ? "(none)" : JSON.stringify(v));
      console.error(`  ${prefix}${key}: ${show(a)} -> ${show(b)}`);
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
