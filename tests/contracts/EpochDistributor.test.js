// The wired system: LabelToken, DatasetEscrow and EpochDistributor deployed by predicted CREATE
// addresses (fixtures.js), with entitlement trees built by @openzeppelin/merkle-tree.
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");

const { deployLedger, entitlementTree, entitlementFor } = require("./fixtures");

const SALT = ethers.id("dataset-1");
const FUNDING = 1_000_000_000n; // 1,000 dUSD (6 decimals)
const LABEL = (n) => ethers.parseEther(n.toString());

describe("EpochDistributor", function () {
  async function ledgerFixture() {
    const [deployer, operator, buyer, alice, bob, stranger, newOperator] = await ethers.getSigners();
    const dusd = await ethers.deployContract("DevStablecoin", [], deployer);
    const { labelToken, escrow, distributor } = await deployLedger({ deployer, operator: operator.address });

    await dusd.mint(buyer.address, 10n * FUNDING);
    await dusd.connect(buyer).approve(await escrow.getAddress(), ethers.MaxUint256);
    await escrow.connect(buyer).createAndFund(SALT, await dusd.getAddress(), FUNDING);
    const id = await escrow.datasetIdOf(buyer.address, SALT);

    return {
      labelToken,
      escrow,
      distributor,
      dusd,
      id,
      token: await dusd.getAddress(),
      label: await labelToken.getAddress(),
      deployer,
      operator,
      buyer,
      alice,
      bob,
      stranger,
      newOperator,
    };
  }

  /** Epoch 1: alice earned 300 dUSD + 30 LABEL, bob 200 dUSD + 20 LABEL; the dataset pays 500. */
  async function epochOneFixture() {
    const fixture = await ledgerFixture();
    const { distributor, operator, id, token, label, alice, bob } = fixture;
    const tree = entitlementTree([
      [alice.address, token, 300_000_000n],
      [alice.address, label, LABEL(30)],
      [bob.address, token, 200_000_000n],
      [bob.address, label, LABEL(20)],
    ]);
    await distributor.connect(operator).postEpoch(1n, tree.root, [id], [500_000_000n]);
    return { ...fixture, tree };
  }

  /** Balance == liabilities: the escrow holds exactly what it owes plus what datasets still have. */
  async function expectBalanced({ escrow, dusd, id, token }) {
    const owed = await escrow.owed(token);
    const { available } = await escrow.dataset(id);
    expect(await dusd.balanceOf(await escrow.getAddress())).to.equal(owed + available);
  }

  describe("deployment", function () {
    it("constructor: wires escrow, LABEL and operator through predicted addresses", async function () {
      const { labelToken, escrow, distributor, operator } = await loadFixture(ledgerFixture);
      const distributorAddress = await distributor.getAddress();
      expect(await escrow.distributor()).to.equal(distributorAddress);
      expect(await labelToken.minter()).to.equal(distributorAddress);
      expect(await distributor.escrow()).to.equal(await escrow.getAddress());
      expect(await distributor.labelToken()).to.equal(await labelToken.getAddress());
      expect(await distributor.operator()).to.equal(operator.address);
      expect(await distributor.owner()).to.equal(operator.address);
      expect(await distributor.currentEpoch()).to.equal(0n);
      expect(await distributor.currentRoot()).to.equal(ethers.ZeroHash);
      expect(await distributor.epochRoot(0n)).to.equal(ethers.ZeroHash);
    });

    it("constructor: reverts when the escrow names another distributor", async function () {
      const [deployer, operator, stranger] = await ethers.getSigners();
      const nonce = await ethers.provider.getTransactionCount(deployer.address);
      const predicted = ethers.getCreateAddress({ from: deployer.address, nonce: nonce + 2 });
      const labelToken = await ethers.deployContract("LabelToken", [predicted], deployer);
      const escrow = await ethers.deployContract("DatasetEscrow", [stranger.address], deployer);
      const factory = await ethers.getContractFactory("EpochDistributor", deployer);
      await expect(
        factory.deploy(await escrow.getAddress(), await labelToken.getAddress(), operator.address),
      ).to.be.revertedWithCustomError(factory, "DistributorMiswired");
    });

    it("constructor: reverts when LABEL names another minter", async function () {
      const [deployer, operator, stranger] = await ethers.getSigners();
      const nonce = await ethers.provider.getTransactionCount(deployer.address);
      const predicted = ethers.getCreateAddress({ from: deployer.address, nonce: nonce + 2 });
      const labelToken = await ethers.deployContract("LabelToken", [stranger.address], deployer);
      const escrow = await ethers.deployContract("DatasetEscrow", [predicted], deployer);
      const factory = await ethers.getContractFactory("EpochDistributor", deployer);
      await expect(
        factory.deploy(await escrow.getAddress(), await labelToken.getAddress(), operator.address),
      ).to.be.revertedWithCustomError(factory, "DistributorMiswired");
    });

    it("constructor: reverts when a transaction slipped between the deployments (nonce off by one)", async function () {
      const [deployer, operator] = await ethers.getSigners();
      const nonce = await ethers.provider.getTransactionCount(deployer.address);
      const predicted = ethers.getCreateAddress({ from: deployer.address, nonce: nonce + 2 });
      const labelToken = await ethers.deployContract("LabelToken", [predicted], deployer);
      const escrow = await ethers.deployContract("DatasetEscrow", [predicted], deployer);
      await deployer.sendTransaction({ to: deployer.address, value: 0n }); // burns nonce + 2
      const factory = await ethers.getContractFactory("EpochDistributor", deployer);
      await expect(
        factory.deploy(await escrow.getAddress(), await labelToken.getAddress(), operator.address),
      ).to.be.revertedWithCustomError(factory, "DistributorMiswired");
    });

    it("constructor: reverts when the escrow or LABEL address holds no contract", async function () {
      const [deployer, operator, stranger] = await ethers.getSigners();
      const { labelToken, escrow } = await loadFixture(ledgerFixture);
      const factory = await ethers.getContractFactory("EpochDistributor", deployer);
      await expect(
        factory.deploy(stranger.address, await labelToken.getAddress(), operator.address),
      ).to.be.revertedWithCustomError(factory, "DistributorMiswired");
      await expect(
        factory.deploy(await escrow.getAddress(), stranger.address, operator.address),
      ).to.be.revertedWithCustomError(factory, "DistributorMiswired");
    });

    it("constructor: reverts when the operator is the zero address", async function () {
      const [deployer] = await ethers.getSigners();
      const nonce = await ethers.provider.getTransactionCount(deployer.address);
      const predicted = ethers.getCreateAddress({ from: deployer.address, nonce: nonce + 2 });
      const labelToken = await ethers.deployContract("LabelToken", [predicted], deployer);
      const escrow = await ethers.deployContract("DatasetEscrow", [predicted], deployer);
      const factory = await ethers.getContractFactory("EpochDistributor", deployer);
      await expect(factory.deploy(await escrow.getAddress(), await labelToken.getAddress(), ethers.ZeroAddress))
        .to.be.revertedWithCustomError(factory, "OwnableInvalidOwner")
        .withArgs(ethers.ZeroAddress);
    });
  });

  describe("operator", function () {
    it("operator: follows a two-step ownership handover", async function () {
      const { distributor, operator, newOperator, id } = await loadFixture(ledgerFixture);
      await distributor.connect(operator).transferOwnership(newOperator.address);
      expect(await distributor.operator()).to.equal(operator.address);
      await distributor.connect(newOperator).acceptOwnership();
      expect(await distributor.operator()).to.equal(newOperator.address);

      await expect(distributor.connect(operator).postEpoch(1n, ethers.id("root"), [id], [1n]))
        .to.be.revertedWithCustomError(distributor, "DistributorNotOperator")
        .withArgs(operator.address);
      await expect(distributor.connect(newOperator).postEpoch(1n, ethers.id("root"), [id], [1n]))
        .to.emit(distributor, "EpochPosted")
        .withArgs(1n, ethers.id("root"), 1n);
    });

    it("renounceOwnership: reverts for the operator, so epochs can never be frozen", async function () {
      const { distributor, operator } = await loadFixture(ledgerFixture);
      await expect(distributor.connect(operator).renounceOwnership()).to.be.revertedWithCustomError(
        distributor,
        "DistributorCannotRenounce",
      );
      expect(await distributor.operator()).to.equal(operator.address);
    });

    it("renounceOwnership: reverts for anyone else with OpenZeppelin's unauthorized error", async function () {
      const { distributor, stranger } = await loadFixture(ledgerFixture);
      await expect(distributor.connect(stranger).renounceOwnership())
        .to.be.revertedWithCustomError(distributor, "OwnableUnauthorizedAccount")
        .withArgs(stranger.address);
    });
  });

  describe("postEpoch", function () {
    it("postEpoch: stores the root, advances the epoch and debits each dataset", async function () {
      const { distributor, escrow, operator, id, token } = await loadFixture(ledgerFixture);
      const root = ethers.id("epoch-1");
      const tx = distributor.connect(operator).postEpoch(1n, root, [id], [500n]);
      await expect(tx).to.emit(distributor, "EpochPosted").withArgs(1n, root, 1n);
      await expect(tx).to.emit(escrow, "DatasetDebited").withArgs(id, 1n, 500n, FUNDING - 500n);
      expect(await distributor.currentEpoch()).to.equal(1n);
      expect(await distributor.currentRoot()).to.equal(root);
      expect(await distributor.epochRoot(1n)).to.equal(root);
      expect(await escrow.owed(token)).to.equal(500n);
      expect((await escrow.dataset(id)).debited).to.equal(500n);
    });

    it("postEpoch: debits several datasets, in several tokens", async function () {
      const { distributor, escrow, dusd, operator, buyer, stranger, id, token } = await loadFixture(ledgerFixture);
      const otherToken = await ethers.deployContract("DevStablecoin");
      await otherToken.mint(stranger.address, 1_000n);
      await otherToken.connect(stranger).approve(await escrow.getAddress(), ethers.MaxUint256);
      await escrow.connect(stranger).createAndFund(SALT, await otherToken.getAddress(), 1_000n);
      const otherId = await escrow.datasetIdOf(stranger.address, SALT);
      await escrow.connect(buyer).createAndFund(ethers.id("dataset-2"), token, 100n);
      const secondId = await escrow.datasetIdOf(buyer.address, ethers.id("dataset-2"));

      await expect(distributor.connect(operator).postEpoch(1n, ethers.id("r"), [id, otherId, secondId], [10n, 20n, 30n]))
        .to.emit(distributor, "EpochPosted")
        .withArgs(1n, ethers.id("r"), 3n);
      expect(await escrow.owed(token)).to.equal(40n);
      expect(await escrow.owed(await otherToken.getAddress())).to.equal(20n);
      expect(await dusd.balanceOf(await escrow.getAddress())).to.equal(FUNDING + 100n);
    });

    it("postEpoch: an epoch that debits no dataset is allowed", async function () {
      const { distributor, operator } = await loadFixture(ledgerFixture);
      await expect(distributor.connect(operator).postEpoch(1n, ethers.id("r"), [], []))
        .to.emit(distributor, "EpochPosted")
        .withArgs(1n, ethers.id("r"), 0n);
      expect(await distributor.currentEpoch()).to.equal(1n);
    });

    it("postEpoch: keeps every epoch's root", async function () {
      const { distributor, operator } = await loadFixture(ledgerFixture);
      await distributor.connect(operator).postEpoch(1n, ethers.id("r1"), [], []);
      await distributor.connect(operator).postEpoch(2n, ethers.id("r2"), [], []);
      expect(await distributor.epochRoot(1n)).to.equal(ethers.id("r1"));
      expect(await distributor.epochRoot(2n)).to.equal(ethers.id("r2"));
      expect(await distributor.currentRoot()).to.equal(ethers.id("r2"));
      expect(await distributor.currentEpoch()).to.equal(2n);
    });

    it("postEpoch: reverts when the caller is not the operator", async function () {
      const { distributor, stranger, deployer } = await loadFixture(ledgerFixture);
      for (const caller of [stranger, deployer]) {
        await expect(distributor.connect(caller).postEpoch(1n, ethers.id("r"), [], []))
          .to.be.revertedWithCustomError(distributor, "DistributorNotOperator")
          .withArgs(caller.address);
      }
    });

    it("postEpoch: reverts when the epoch skips ahead", async function () {
      const { distributor, operator } = await loadFixture(ledgerFixture);
      await expect(distributor.connect(operator).postEpoch(2n, ethers.id("r"), [], []))
        .to.be.revertedWithCustomError(distributor, "DistributorEpochOutOfOrder")
        .withArgs(1n, 2n);
    });

    it("postEpoch: reverts when the epoch is re-sent (never debits twice)", async function () {
      const { distributor, escrow, operator, id, token } = await loadFixture(ledgerFixture);
      await distributor.connect(operator).postEpoch(1n, ethers.id("r"), [id], [500n]);
      await expect(distributor.connect(operator).postEpoch(1n, ethers.id("r"), [id], [500n]))
        .to.be.revertedWithCustomError(distributor, "DistributorEpochOutOfOrder")
        .withArgs(2n, 1n);
      await expect(distributor.connect(operator).postEpoch(0n, ethers.id("r"), [], []))
        .to.be.revertedWithCustomError(distributor, "DistributorEpochOutOfOrder")
        .withArgs(2n, 0n);
      expect(await escrow.owed(token)).to.equal(500n);
    });

    it("postEpoch: reverts when the root is empty", async function () {
      const { distributor, operator } = await loadFixture(ledgerFixture);
      await expect(
        distributor.connect(operator).postEpoch(1n, ethers.ZeroHash, [], []),
      ).to.be.revertedWithCustomError(distributor, "DistributorEmptyRoot");
    });

    it("postEpoch: reverts when datasets and debits differ in length", async function () {
      const { distributor, operator, id } = await loadFixture(ledgerFixture);
      await expect(distributor.connect(operator).postEpoch(1n, ethers.id("r"), [id], [1n, 2n]))
        .to.be.revertedWithCustomError(distributor, "DistributorLengthMismatch")
        .withArgs(1n, 2n);
      await expect(distributor.connect(operator).postEpoch(1n, ethers.id("r"), [id, id], []))
        .to.be.revertedWithCustomError(distributor, "DistributorLengthMismatch")
        .withArgs(2n, 0n);
    });

    it("postEpoch: reverts as a whole when a debit exceeds what the dataset holds", async function () {
      const { distributor, escrow, operator, id, token } = await loadFixture(ledgerFixture);
      await expect(distributor.connect(operator).postEpoch(1n, ethers.id("r"), [id], [FUNDING + 1n]))
        .to.be.revertedWithCustomError(escrow, "EscrowInsufficientFunds")
        .withArgs(id, FUNDING, FUNDING + 1n);
      // two debits that only together exceed the funds: the first is rolled back too
      await expect(distributor.connect(operator).postEpoch(1n, ethers.id("r"), [id, id], [FUNDING, 1n]))
        .to.be.revertedWithCustomError(escrow, "EscrowInsufficientFunds")
        .withArgs(id, 0n, 1n);
      expect(await distributor.currentEpoch()).to.equal(0n);
      expect(await distributor.currentRoot()).to.equal(ethers.ZeroHash);
      expect(await distributor.epochRoot(1n)).to.equal(ethers.ZeroHash);
      expect(await escrow.owed(token)).to.equal(0n);
      expect((await escrow.dataset(id)).available).to.equal(FUNDING);
    });

    it("postEpoch: reverts when a dataset is unknown", async function () {
      const { distributor, escrow, operator } = await loadFixture(ledgerFixture);
      const unknown = ethers.id("unknown");
      await expect(distributor.connect(operator).postEpoch(1n, ethers.id("r"), [unknown], [1n]))
        .to.be.revertedWithCustomError(escrow, "EscrowUnknownDataset")
        .withArgs(unknown);
    });

    it("postEpoch: reverts when a debit is zero", async function () {
      const { distributor, escrow, operator, id } = await loadFixture(ledgerFixture);
      await expect(
        distributor.connect(operator).postEpoch(1n, ethers.id("r"), [id], [0n]),
      ).to.be.revertedWithCustomError(escrow, "EscrowZeroAmount");
    });

    it("postEpoch: reverts when a closed dataset is debited", async function () {
      const { distributor, escrow, operator, buyer, id } = await loadFixture(ledgerFixture);
      await escrow.connect(buyer).close(id);
      await expect(distributor.connect(operator).postEpoch(1n, ethers.id("r"), [id], [1n]))
        .to.be.revertedWithCustomError(escrow, "EscrowInsufficientFunds")
        .withArgs(id, 0n, 1n);
    });
  });

  describe("escrow access in the wired deployment", function () {
    it("debit: reverts when anyone but the distributor calls it, even the operator", async function () {
      const { escrow, operator, buyer, id } = await loadFixture(ledgerFixture);
      for (const caller of [operator, buyer]) {
        await expect(escrow.connect(caller).debit(id, 1n, 1n))
          .to.be.revertedWithCustomError(escrow, "EscrowNotDistributor")
          .withArgs(caller.address);
      }
    });

    it("payOut: reverts when anyone but the distributor calls it, even the operator", async function () {
      const { escrow, operator, alice, token } = await loadFixture(epochOneFixture);
      for (const caller of [operator, alice]) {
        await expect(escrow.connect(caller).payOut(token, alice.address, 1n))
          .to.be.revertedWithCustomError(escrow, "EscrowNotDistributor")
          .withArgs(caller.address);
      }
    });

    it("mint: LABEL reverts when anyone but the distributor mints, even the operator", async function () {
      const { labelToken, operator } = await loadFixture(ledgerFixture);
      await expect(labelToken.connect(operator).mint(operator.address, 1n))
        .to.be.revertedWithCustomError(labelToken, "LabelTokenNotMinter")
        .withArgs(operator.address);
    });
  });

  describe("claim", function () {
    it("claim: pays the payment token and mints LABEL in one call", async function () {
      const fixture = await loadFixture(epochOneFixture);
      const { distributor, escrow, labelToken, dusd, tree, alice, token, label } = fixture;
      const entitlements = [entitlementFor(tree, alice.address, token), entitlementFor(tree, alice.address, label)];

      const tx = distributor.connect(alice).claim(alice.address, entitlements);
      await expect(tx).to.emit(distributor, "Claimed").withArgs(alice.address, token, 300_000_000n, 300_000_000n);
      await expect(tx).to.emit(distributor, "Claimed").withArgs(alice.address, label, LABEL(30), LABEL(30));
      await expect(tx).to.emit(escrow, "PaidOut").withArgs(token, alice.address, 300_000_000n);
      await expect(tx).to.changeTokenBalances(dusd, [alice, escrow], [300_000_000n, -300_000_000n]);
      await expect(tx).to.changeTokenBalance(labelToken, alice, LABEL(30));

      expect(await distributor.claimed(alice.address, token)).to.equal(300_000_000n);
      expect(await distributor.claimed(alice.address, label)).to.equal(LABEL(30));
      expect(await escrow.owed(token)).to.equal(200_000_000n);
      expect(await labelToken.totalSupply()).to.equal(LABEL(30));
      await expectBalanced(fixture);
    });

    it("claim: claiming twice pays nothing more and does not revert", async function () {
      const { distributor, labelToken, dusd, tree, alice, token, label } = await loadFixture(epochOneFixture);
      const entitlements = [entitlementFor(tree, alice.address, token), entitlementFor(tree, alice.address, label)];
      await distributor.connect(alice).claim(alice.address, entitlements);

      const again = distributor.connect(alice).claim(alice.address, entitlements);
      await expect(again).to.not.emit(distributor, "Claimed");
      await expect(again).to.changeTokenBalance(dusd, alice, 0n);
      await expect(again).to.changeTokenBalance(labelToken, alice, 0n);
      expect(await distributor.claimed(alice.address, token)).to.equal(300_000_000n);
    });

    it("claim: the same entitlement twice in one call pays once", async function () {
      const { distributor, dusd, tree, alice, token } = await loadFixture(epochOneFixture);
      const entitlement = entitlementFor(tree, alice.address, token);
      await expect(distributor.connect(alice).claim(alice.address, [entitlement, entitlement])).to.changeTokenBalance(
        dusd,
        alice,
        300_000_000n,
      );
    });

    it("claim: anyone may claim on behalf of an account; the tokens go to that account", async function () {
      const { distributor, labelToken, dusd, tree, bob, stranger, token, label } = await loadFixture(epochOneFixture);
      const entitlements = [entitlementFor(tree, bob.address, token), entitlementFor(tree, bob.address, label)];
      const tx = distributor.connect(stranger).claim(bob.address, entitlements);
      await expect(tx).to.emit(distributor, "Claimed").withArgs(bob.address, token, 200_000_000n, 200_000_000n);
      await expect(tx).to.changeTokenBalances(dusd, [bob, stranger], [200_000_000n, 0n]);
      await expect(tx).to.changeTokenBalances(labelToken, [bob, stranger], [LABEL(20), 0n]);
    });

    it("claim: an empty entitlement list does nothing", async function () {
      const { distributor, alice } = await loadFixture(epochOneFixture);
      await expect(distributor.connect(alice).claim(alice.address, [])).to.not.emit(distributor, "Claimed");
    });

    it("claim: reverts when no epoch was posted yet", async function () {
      const { distributor, alice, token } = await loadFixture(ledgerFixture);
      await expect(
        distributor.connect(alice).claim(alice.address, [{ token, cumulative: 1n, proof: [] }]),
      ).to.be.revertedWithCustomError(distributor, "DistributorNoEpoch");
    });

    it("claim: reverts when the proof is someone else's leaf", async function () {
      const { distributor, tree, alice, bob, stranger, token } = await loadFixture(epochOneFixture);
      const bobs = entitlementFor(tree, bob.address, token);
      await expect(distributor.connect(stranger).claim(alice.address, [bobs]))
        .to.be.revertedWithCustomError(distributor, "DistributorInvalidProof")
        .withArgs(alice.address, token, bobs.cumulative);
    });

    it("claim: reverts when the cumulative is inflated", async function () {
      const { distributor, tree, alice, token } = await loadFixture(epochOneFixture);
      const inflated = { ...entitlementFor(tree, alice.address, token), cumulative: 300_000_001n };
      await expect(distributor.connect(alice).claim(alice.address, [inflated]))
        .to.be.revertedWithCustomError(distributor, "DistributorInvalidProof")
        .withArgs(alice.address, token, 300_000_001n);
    });

    it("claim: reverts when the token of a leaf is swapped", async function () {
      const { distributor, tree, alice, token, label } = await loadFixture(epochOneFixture);
      const swapped = { ...entitlementFor(tree, alice.address, label), token };
      await expect(distributor.connect(alice).claim(alice.address, [swapped]))
        .to.be.revertedWithCustomError(distributor, "DistributorInvalidProof")
        .withArgs(alice.address, token, LABEL(30));
    });

    it("claim: reverts as a whole when one entitlement of several is invalid", async function () {
      const { distributor, dusd, tree, alice, token, label } = await loadFixture(epochOneFixture);
      const good = entitlementFor(tree, alice.address, token);
      const bad = { ...entitlementFor(tree, alice.address, label), proof: [] };
      await expect(distributor.connect(alice).claim(alice.address, [good, bad]))
        .to.be.revertedWithCustomError(distributor, "DistributorInvalidProof")
        .withArgs(alice.address, label, LABEL(30));
      expect(await dusd.balanceOf(alice.address)).to.equal(0n);
      expect(await distributor.claimed(alice.address, token)).to.equal(0n);
    });

    it("claim: reverts when a proof is checked against a root that was replaced", async function () {
      const { distributor, operator, tree, alice, token } = await loadFixture(epochOneFixture);
      const next = entitlementTree([
        [alice.address, token, 350_000_000n],
        [operator.address, token, 1n],
      ]);
      await distributor.connect(operator).postEpoch(2n, next.root, [], []);
      await expect(distributor.connect(alice).claim(alice.address, [entitlementFor(tree, alice.address, token)]))
        .to.be.revertedWithCustomError(distributor, "DistributorInvalidProof")
        .withArgs(alice.address, token, 300_000_000n);
    });

    it("claim: reverts when the escrow owes less than the root entitles", async function () {
      const { distributor, escrow, operator, alice, bob, id, token } = await loadFixture(ledgerFixture);
      const tree = entitlementTree([
        [alice.address, token, 300n],
        [bob.address, token, 1n],
      ]);
      await distributor.connect(operator).postEpoch(1n, tree.root, [id], [100n]);
      await expect(distributor.connect(alice).claim(alice.address, [entitlementFor(tree, alice.address, token)]))
        .to.be.revertedWithCustomError(escrow, "EscrowInsufficientOwed")
        .withArgs(token, 100n, 300n);
    });

    it("claim: a stale cumulative below what was claimed pays nothing", async function () {
      const { distributor, dusd, operator, tree, alice, bob, token } = await loadFixture(epochOneFixture);
      await distributor.connect(alice).claim(alice.address, [entitlementFor(tree, alice.address, token)]);
      const lower = entitlementTree([
        [alice.address, token, 100_000_000n],
        [bob.address, token, 200_000_000n],
      ]);
      await distributor.connect(operator).postEpoch(2n, lower.root, [], []);
      const tx = distributor.connect(alice).claim(alice.address, [entitlementFor(lower, alice.address, token)]);
      await expect(tx).to.not.emit(distributor, "Claimed");
      await expect(tx).to.changeTokenBalance(dusd, alice, 0n);
      expect(await distributor.claimed(alice.address, token)).to.equal(300_000_000n);
    });
  });

  describe("full loop", function () {
    it("create+fund, two epochs, claims of both tokens, and the buyer's refund", async function () {
      const fixture = await loadFixture(ledgerFixture);
      const { distributor, escrow, labelToken, dusd, operator, buyer, alice, bob, stranger, id, token, label } =
        fixture;

      // epoch 1: 500 dUSD of labels verified; the dataset pays for them
      const epoch1 = entitlementTree([
        [alice.address, token, 300_000_000n],
        [alice.address, label, LABEL(30)],
        [bob.address, token, 200_000_000n],
        [bob.address, label, LABEL(20)],
      ]);
      await expect(distributor.connect(operator).postEpoch(1n, epoch1.root, [id], [500_000_000n]))
        .to.emit(escrow, "DatasetDebited")
        .withArgs(id, 1n, 500_000_000n, FUNDING - 500_000_000n);
      await expectBalanced(fixture);

      // alice claims both tokens herself; a stranger claims for bob
      await distributor
        .connect(alice)
        .claim(alice.address, [entitlementFor(epoch1, alice.address, token), entitlementFor(epoch1, alice.address, label)]);
      await distributor
        .connect(stranger)
        .claim(bob.address, [entitlementFor(epoch1, bob.address, token), entitlementFor(epoch1, bob.address, label)]);
      expect(await dusd.balanceOf(alice.address)).to.equal(300_000_000n);
      expect(await dusd.balanceOf(bob.address)).to.equal(200_000_000n);
      expect(await dusd.balanceOf(stranger.address)).to.equal(0n);
      expect(await labelToken.balanceOf(alice.address)).to.equal(LABEL(30));
      expect(await labelToken.balanceOf(bob.address)).to.equal(LABEL(20));
      expect(await escrow.owed(token)).to.equal(0n);
      await expectBalanced(fixture);

      // epoch 2: only alice earned more (cumulative 450 dUSD, 45 LABEL); bob's leaves are unchanged
      const epoch2 = entitlementTree([
        [alice.address, token, 450_000_000n],
        [alice.address, label, LABEL(45)],
        [bob.address, token, 200_000_000n],
        [bob.address, label, LABEL(20)],
      ]);
      await distributor.connect(operator).postEpoch(2n, epoch2.root, [id], [150_000_000n]);

      const aliceClaim = distributor
        .connect(alice)
        .claim(alice.address, [entitlementFor(epoch2, alice.address, token), entitlementFor(epoch2, alice.address, label)]);
      await expect(aliceClaim)
        .to.emit(distributor, "Claimed")
        .withArgs(alice.address, token, 150_000_000n, 450_000_000n);
      await expect(aliceClaim).to.emit(distributor, "Claimed").withArgs(alice.address, label, LABEL(15), LABEL(45));
      await expect(aliceClaim).to.changeTokenBalance(dusd, alice, 150_000_000n);
      await expect(aliceClaim).to.changeTokenBalance(labelToken, alice, LABEL(15));

      const bobClaim = distributor
        .connect(bob)
        .claim(bob.address, [entitlementFor(epoch2, bob.address, token), entitlementFor(epoch2, bob.address, label)]);
      await expect(bobClaim).to.not.emit(distributor, "Claimed");
      await expect(bobClaim).to.changeTokenBalance(dusd, bob, 0n);

      // the buyer closes and gets back what was never debited
      const refund = FUNDING - 650_000_000n;
      const close = escrow.connect(buyer).close(id);
      await expect(close).to.emit(escrow, "DatasetClosed").withArgs(id, buyer.address, refund);
      await expect(close).to.changeTokenBalance(dusd, buyer, refund);

      const record = await escrow.dataset(id);
      expect(record.closed).to.equal(true);
      expect(record.available).to.equal(0n);
      expect(record.debited).to.equal(650_000_000n);
      expect(await dusd.balanceOf(await escrow.getAddress())).to.equal(0n);
      expect(await labelToken.totalSupply()).to.equal(LABEL(65));

      // after close the dataset cannot be debited again
      await expect(distributor.connect(operator).postEpoch(3n, epoch2.root, [id], [1n]))
        .to.be.revertedWithCustomError(escrow, "EscrowInsufficientFunds")
        .withArgs(id, 0n, 1n);
    });

    it("close: debited-but-unclaimed funds stay claimable after the buyer closes", async function () {
      const fixture = await loadFixture(epochOneFixture);
      const { distributor, escrow, dusd, tree, buyer, alice, id, token } = fixture;
      await expect(escrow.connect(buyer).close(id)).to.changeTokenBalance(dusd, buyer, FUNDING - 500_000_000n);
      await expect(
        distributor.connect(alice).claim(alice.address, [entitlementFor(tree, alice.address, token)]),
      ).to.changeTokenBalance(dusd, alice, 300_000_000n);
      expect(await escrow.owed(token)).to.equal(200_000_000n);
      await expectBalanced(fixture);
    });

    it("close: reverts when a non-buyer tries, even the operator", async function () {
      const { escrow, operator, id } = await loadFixture(epochOneFixture);
      await expect(escrow.connect(operator).close(id))
        .to.be.revertedWithCustomError(escrow, "EscrowNotBuyer")
        .withArgs(id, operator.address);
    });
  });
});
