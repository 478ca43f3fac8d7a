// LabelLedger: the LABEL ERC-20, escrow, epochs (timelock, revoke), claims (single and
// multiproof), pause and fees. Every test ends by checking the solvency identity per token.
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture, time } = require("@nomicfoundation/hardhat-network-helpers");
const { anyValue } = require("@nomicfoundation/hardhat-chai-matchers/withArgs");

const {
  deployLedger,
  payoutTree,
  payoutFor,
  multiproofFor,
  signPermit,
  SALT,
  datasetId,
  ROLES,
} = require("./fixtures");

const TIMELOCK = 3600n;
const GRACE = 7n * 24n * 3600n;
const FUNDING = 1_000_000_000n; // 1,000 dUSD (6 decimals)
const FEE_BPS = 250n; // 2.5%
const DUSD = 1; // allowlist indices
const EURC = 2;
const OPEN = 1n;
const CLOSING = 2n;
const CLOSED = 3n;
const ZERO_HASH = ethers.ZeroHash;
const SOME_ROOT = ethers.id("a payout root nobody claims against");
const LABEL_ROOT = ethers.id("label root");
const CONTENT_HASH = ethers.id("published files");

const feeOf = (debit, bps = FEE_BPS) => (debit * bps) / 10_000n;
const commitment = (payoutRoot, labelRoot, contentHash) =>
  ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(["bytes32", "bytes32", "bytes32"], [payoutRoot, labelRoot, contentHash]));
const debitsHash = (ids, debits) =>
  ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(["uint256[]", "uint256[]"], [ids, debits]));

describe("LabelLedger", function () {
  async function deployFixture() {
    const [admin, proposer, guardian, pauser, buyer, funder, alice, bob, carol, relayer, treasury, stranger] =
      await ethers.getSigners();
    const dusd = await ethers.deployContract("DevStablecoin");
    const eurc = await ethers.deployContract("DevStablecoin");
    const fot = await ethers.deployContract("FeeOnTransferToken");
    const ledger = await deployLedger({
      admin,
      proposer: proposer.address,
      guardian: guardian.address,
      pauser: pauser.address,
      timelock: TIMELOCK,
      paymentTokens: [await dusd.getAddress(), await eurc.getAddress()],
    });
    await ledger.connect(admin).setFeeBps(FEE_BPS);
    const ledgerAddress = await ledger.getAddress();
    for (const account of [buyer, funder]) {
      for (const token of [dusd, eurc, fot]) {
        await token.mint(account.address, 10n * FUNDING);
        await token.connect(account).approve(ledgerAddress, ethers.MaxUint256);
      }
    }
    // Dataset ids, computed off chain: the buyer's datasets with SALT(1) and SALT(2), and one nobody creates.
    const ds1 = datasetId(buyer.address, SALT(1));
    const ds2 = datasetId(buyer.address, SALT(2));
    const unknown = datasetId(buyer.address, SALT(99));
    return {
      ledger, ledgerAddress, dusd, eurc, fot,
      admin, proposer, guardian, pauser, buyer, funder, alice, bob, carol, relayer, treasury, stranger,
      ds1, ds2, unknown,
    };
  }

  /** The buyer's dUSD dataset ds1 (SALT(1)) and EURC dataset ds2 (SALT(2)), each funded with FUNDING. */
  async function fundedFixture() {
    const f = await deployFixture();
    await f.ledger.connect(f.buyer).createAndFund(SALT(1), DUSD, FUNDING);
    await f.ledger.connect(f.buyer).createAndFund(SALT(2), EURC, FUNDING);
    return f;
  }

  /**
   * Epoch 1 accepted: alice, bob, carol earned in dUSD (dataset ds1), alice also in EURC (ds2).
   * The debits are exactly the cumulatives of the tree.
   */
  async function acceptedFixture() {
    const f = await fundedFixture();
    const earnings = [
      [f.alice.address, DUSD, 100_000_000n, 2_000_000n],
      [f.bob.address, DUSD, 50_000_000n, 1_000_000n],
      [f.carol.address, DUSD, 25_000_000n, 500_000n],
      [f.alice.address, EURC, 40_000_000n, 800_000n],
    ];
    const tree = payoutTree(earnings);
    const debits = [175_000_000n, 40_000_000n];
    await f.ledger.connect(f.proposer).proposeEpoch(1, tree.root, LABEL_ROOT, CONTENT_HASH, [f.ds1, f.ds2], debits);
    await time.increase(TIMELOCK);
    await f.ledger.acceptEpoch();
    return { ...f, tree, earnings, debits };
  }

  /** Per payment token: the ledger's balance == sum(available) + owed + fees. */
  async function expectSolvent(f) {
    const count = await f.ledger.tokenCount();
    // ids are not sequential: every dataset ever created, from the DatasetCreated logs
    const created = await f.ledger.queryFilter(f.ledger.filters.DatasetCreated());
    const datasets = [];
    for (const log of created) datasets.push(await f.ledger.dataset(log.args.datasetId));
    for (let token = 1; token <= Number(count); token++) {
      const address = await f.ledger.tokenAt(token);
      const erc20 = await ethers.getContractAt("IERC20", address);
      const available = datasets.filter((d) => d.token === BigInt(token)).reduce((s, d) => s + d.available, 0n);
      const [owed, fees] = await f.ledger.tokenState(token);
      expect(await erc20.balanceOf(f.ledgerAddress)).to.equal(available + owed + fees, `token ${token} not balanced`);
    }
  }

  const claimOf = (f, tree, account, token, caller = f.relayer) => {
    const p = payoutFor(tree, account, token);
    return f.ledger.connect(caller).claim(p.account, p.token, p.cumulativePayment, p.cumulativeReward, p.proof);
  };

  describe("LABEL token", function () {
    it("metadata: Label, LABEL, 6 decimals, zero supply at deployment", async function () {
      const { ledger } = await loadFixture(deployFixture);
      expect(await ledger.name()).to.equal("Label");
      expect(await ledger.symbol()).to.equal("LABEL");
      expect(await ledger.decimals()).to.equal(6n);
      expect(await ledger.totalSupply()).to.equal(0n);
    });

    it("transfer: moves LABEL and emits Transfer", async function () {
      const f = await loadFixture(acceptedFixture);
      await claimOf(f, f.tree, f.alice.address, DUSD);
      await expect(f.ledger.connect(f.alice).transfer(f.bob.address, 500_000n))
        .to.emit(f.ledger, "Transfer")
        .withArgs(f.alice.address, f.bob.address, 500_000n);
      expect(await f.ledger.balanceOf(f.alice.address)).to.equal(1_500_000n);
      expect(await f.ledger.balanceOf(f.bob.address)).to.equal(500_000n);
      expect(await f.ledger.totalSupply()).to.equal(2_000_000n);
    });

    it("transfer: keeps the claimed counters packed beside the balance", async function () {
      const f = await loadFixture(acceptedFixture);
      await claimOf(f, f.tree, f.alice.address, DUSD);
      await f.ledger.connect(f.alice).transfer(f.bob.address, 2_000_000n);
      expect(await f.ledger.claimed(f.alice.address, DUSD)).to.deep.equal([100_000_000n, 2_000_000n]);
      await expect(claimOf(f, f.tree, f.alice.address, DUSD)).to.not.emit(f.ledger, "Claimed");
    });

    it("transfer: reverts ERC20InsufficientBalance", async function () {
      const f = await loadFixture(deployFixture);
      await expect(f.ledger.connect(f.alice).transfer(f.bob.address, 1n))
        .to.be.revertedWithCustomError(f.ledger, "ERC20InsufficientBalance")
        .withArgs(f.alice.address, 0n, 1n);
    });

    it("transfer: reverts ERC20InvalidReceiver for the zero address", async function () {
      const f = await loadFixture(deployFixture);
      await expect(f.ledger.connect(f.alice).transfer(ethers.ZeroAddress, 0n))
        .to.be.revertedWithCustomError(f.ledger, "ERC20InvalidReceiver")
        .withArgs(ethers.ZeroAddress);
    });

    it("approve: sets the allowance and emits Approval", async function () {
      const f = await loadFixture(deployFixture);
      await expect(f.ledger.connect(f.alice).approve(f.bob.address, 7n))
        .to.emit(f.ledger, "Approval")
        .withArgs(f.alice.address, f.bob.address, 7n);
      expect(await f.ledger.allowance(f.alice.address, f.bob.address)).to.equal(7n);
    });

    it("approve: reverts ERC20InvalidSpender for the zero address", async function () {
      const f = await loadFixture(deployFixture);
      await expect(f.ledger.connect(f.alice).approve(ethers.ZeroAddress, 1n))
        .to.be.revertedWithCustomError(f.ledger, "ERC20InvalidSpender")
        .withArgs(ethers.ZeroAddress);
    });

    it("transferFrom: spends the allowance", async function () {
      const f = await loadFixture(acceptedFixture);
      await claimOf(f, f.tree, f.alice.address, DUSD);
      await f.ledger.connect(f.alice).approve(f.bob.address, 1_000_000n);
      await expect(f.ledger.connect(f.bob).transferFrom(f.alice.address, f.carol.address, 400_000n))
        .to.emit(f.ledger, "Transfer")
        .withArgs(f.alice.address, f.carol.address, 400_000n);
      expect(await f.ledger.allowance(f.alice.address, f.bob.address)).to.equal(600_000n);
      expect(await f.ledger.balanceOf(f.carol.address)).to.equal(400_000n);
    });

    it("transferFrom: an infinite allowance is not spent", async function () {
      const f = await loadFixture(acceptedFixture);
      await claimOf(f, f.tree, f.alice.address, DUSD);
      await f.ledger.connect(f.alice).approve(f.bob.address, ethers.MaxUint256);
      await f.ledger.connect(f.bob).transferFrom(f.alice.address, f.carol.address, 400_000n);
      expect(await f.ledger.allowance(f.alice.address, f.bob.address)).to.equal(ethers.MaxUint256);
    });

    it("transferFrom: reverts ERC20InsufficientAllowance", async function () {
      const f = await loadFixture(acceptedFixture);
      await claimOf(f, f.tree, f.alice.address, DUSD);
      await f.ledger.connect(f.alice).approve(f.bob.address, 1n);
      await expect(f.ledger.connect(f.bob).transferFrom(f.alice.address, f.carol.address, 2n))
        .to.be.revertedWithCustomError(f.ledger, "ERC20InsufficientAllowance")
        .withArgs(f.bob.address, 1n, 2n);
    });

    it("transferFrom: reverts ERC20InvalidSender from the zero address", async function () {
      const f = await loadFixture(deployFixture);
      await expect(f.ledger.connect(f.bob).transferFrom(ethers.ZeroAddress, f.carol.address, 0n))
        .to.be.revertedWithCustomError(f.ledger, "ERC20InvalidSender")
        .withArgs(ethers.ZeroAddress);
    });
  });

  describe("admin", function () {
    it("constructor: reverts LedgerZeroAddress for a zero admin; TIMELOCK is immutable", async function () {
      const factory = await ethers.getContractFactory("LabelLedger");
      await expect(factory.deploy(ethers.ZeroAddress, 0)).to.be.revertedWithCustomError(factory, "LedgerZeroAddress");
      const { ledger } = await loadFixture(deployFixture);
      expect(await ledger.TIMELOCK()).to.equal(TIMELOCK);
      expect(await ledger.CLOSE_GRACE_PERIOD()).to.equal(GRACE);
      expect(await ledger.MAX_FEE_BPS()).to.equal(1000n);
      expect(await ledger.ROOT_PROPOSER_ROLE()).to.equal(ROLES.rootProposer);
      expect(await ledger.GUARDIAN_ROLE()).to.equal(ROLES.guardian);
      expect(await ledger.PAUSER_ROLE()).to.equal(ROLES.pauser);
    });

    it("listToken: assigns indices from 1 and emits TokenListed", async function () {
      const f = await loadFixture(deployFixture);
      expect(await f.ledger.tokenCount()).to.equal(2n);
      expect(await f.ledger.tokenAt(DUSD)).to.equal(await f.dusd.getAddress());
      expect(await f.ledger.tokenIndexOf(await f.eurc.getAddress())).to.equal(BigInt(EURC));
      const fot = await f.fot.getAddress();
      await expect(f.ledger.connect(f.admin).listToken(fot)).to.emit(f.ledger, "TokenListed").withArgs(3, fot);
      expect(await f.ledger.tokenIndexOf(fot)).to.equal(3n);
    });

    it("listToken: reverts LedgerTokenAlreadyListed", async function () {
      const f = await loadFixture(deployFixture);
      const dusd = await f.dusd.getAddress();
      await expect(f.ledger.connect(f.admin).listToken(dusd))
        .to.be.revertedWithCustomError(f.ledger, "LedgerTokenAlreadyListed")
        .withArgs(dusd, DUSD);
    });

    it("listToken: reverts LedgerZeroAddress", async function () {
      const f = await loadFixture(deployFixture);
      await expect(f.ledger.connect(f.admin).listToken(ethers.ZeroAddress)).to.be.revertedWithCustomError(
        f.ledger,
        "LedgerZeroAddress",
      );
    });

    it("listToken: reverts LedgerTooManyTokens once 65535 are listed", async function () {
      const f = await loadFixture(deployFixture);
      // Globals is storage slot 4 (after AccessControl's roles and the three account mappings):
      // labelSupply (64 bits), paused (8), feeBps (16), tokenCount (16) from bit 88.
      const slot = 4n;
      const word = BigInt(await ethers.provider.getStorage(f.ledgerAddress, slot));
      expect((word >> 88n) & 0xffffn).to.equal(2n); // the layout this test assumes
      const full = word | (0xffffn << 88n);
      await ethers.provider.send("hardhat_setStorageAt", [f.ledgerAddress, ethers.toQuantity(slot), ethers.toBeHex(full, 32)]);
      await expect(f.ledger.connect(f.admin).listToken(await f.fot.getAddress())).to.be.revertedWithCustomError(
        f.ledger,
        "LedgerTooManyTokens",
      );
    });

    it("listToken, setFeeBps, withdrawFees: admin only", async function () {
      const f = await loadFixture(deployFixture);
      for (const send of [
        () => f.ledger.connect(f.stranger).listToken(f.stranger.address),
        () => f.ledger.connect(f.stranger).setFeeBps(1),
        () => f.ledger.connect(f.stranger).withdrawFees(DUSD, f.stranger.address),
      ]) {
        await expect(send())
          .to.be.revertedWithCustomError(f.ledger, "AccessControlUnauthorizedAccount")
          .withArgs(f.stranger.address, ROLES.admin);
      }
    });

    it("setFeeBps: sets the fee and emits FeeBpsSet; reverts LedgerFeeTooHigh above MAX_FEE_BPS", async function () {
      const f = await loadFixture(deployFixture);
      await expect(f.ledger.connect(f.admin).setFeeBps(1000)).to.emit(f.ledger, "FeeBpsSet").withArgs(1000);
      expect(await f.ledger.feeBps()).to.equal(1000n);
      await expect(f.ledger.connect(f.admin).setFeeBps(1001))
        .to.be.revertedWithCustomError(f.ledger, "LedgerFeeTooHigh")
        .withArgs(1001, 1000);
    });

    it("setFeeBps: a dataset keeps the fee it was created with", async function () {
      const f = await loadFixture(fundedFixture);
      await f.ledger.connect(f.admin).setFeeBps(1000);
      await f.ledger.connect(f.proposer).proposeEpoch(1, SOME_ROOT, ZERO_HASH, ZERO_HASH, [f.ds1], [100_000n]);
      expect((await f.ledger.tokenState(DUSD)).fees).to.equal(feeOf(100_000n));
      await expectSolvent(f);
    });

    it("withdrawFees: sends the accrued fees to the treasury and emits FeesWithdrawn", async function () {
      const f = await loadFixture(acceptedFixture);
      const fees = feeOf(f.debits[0]);
      const tx = f.ledger.connect(f.admin).withdrawFees(DUSD, f.treasury.address);
      await expect(tx).to.emit(f.ledger, "FeesWithdrawn").withArgs(DUSD, f.treasury.address, fees);
      await expect(tx).to.changeTokenBalances(f.dusd, [f.ledger, f.treasury], [-fees, fees]);
      expect((await f.ledger.tokenState(DUSD)).fees).to.equal(0n);
      await expectSolvent(f);
    });

    it("withdrawFees: reverts LedgerZeroAddress and LedgerUnknownToken", async function () {
      const f = await loadFixture(acceptedFixture);
      await expect(f.ledger.connect(f.admin).withdrawFees(DUSD, ethers.ZeroAddress)).to.be.revertedWithCustomError(
        f.ledger,
        "LedgerZeroAddress",
      );
      await expect(f.ledger.connect(f.admin).withdrawFees(9, f.treasury.address))
        .to.be.revertedWithCustomError(f.ledger, "LedgerUnknownToken")
        .withArgs(9);
    });
  });

  describe("pause", function () {
    it("pause/unpause: emit Paused/Unpaused; pauser only", async function () {
      const f = await loadFixture(deployFixture);
      await expect(f.ledger.connect(f.pauser).pause()).to.emit(f.ledger, "Paused").withArgs(f.pauser.address);
      expect(await f.ledger.paused()).to.equal(true);
      await expect(f.ledger.connect(f.pauser).unpause()).to.emit(f.ledger, "Unpaused").withArgs(f.pauser.address);
      expect(await f.ledger.paused()).to.equal(false);
      for (const send of [() => f.ledger.connect(f.stranger).pause(), () => f.ledger.connect(f.stranger).unpause()]) {
        await expect(send())
          .to.be.revertedWithCustomError(f.ledger, "AccessControlUnauthorizedAccount")
          .withArgs(f.stranger.address, ROLES.pauser);
      }
    });

    it("pause: reverts LedgerPaused when paused; unpause reverts LedgerNotPaused when not", async function () {
      const f = await loadFixture(deployFixture);
      await expect(f.ledger.connect(f.pauser).unpause()).to.be.revertedWithCustomError(f.ledger, "LedgerNotPaused");
      await f.ledger.connect(f.pauser).pause();
      await expect(f.ledger.connect(f.pauser).pause()).to.be.revertedWithCustomError(f.ledger, "LedgerPaused");
    });

    it("pause: stops deposits and claims with LedgerPaused", async function () {
      const f = await loadFixture(acceptedFixture);
      await f.ledger.connect(f.pauser).pause();
      const p = payoutFor(f.tree, f.alice.address, DUSD);
      const many = multiproofFor(f.tree, [[f.bob.address, DUSD]]);
      const sig = await signPermit(f.dusd, f.funder, f.ledgerAddress, 1n, ethers.MaxUint256);
      // thunks, sent one at a time: a promise created early rejects before anyone awaits it
      for (const send of [
        () => f.ledger.connect(f.buyer).createAndFund(SALT(3), DUSD, 1n),
        () => f.ledger.connect(f.funder).fund(f.ds1, 1n),
        () => f.ledger.connect(f.funder).fundWithPermit(f.ds1, 1n, ethers.MaxUint256, sig.v, sig.r, sig.s),
        () => f.ledger.claim(p.account, p.token, p.cumulativePayment, p.cumulativeReward, p.proof),
        () => f.ledger.claimMany(many.leaves, many.proof, many.proofFlags),
      ]) {
        await expect(send()).to.be.revertedWithCustomError(f.ledger, "LedgerPaused");
      }
    });

    it("pause: never stops refunds, epochs or LABEL transfers", async function () {
      const f = await loadFixture(acceptedFixture);
      await claimOf(f, f.tree, f.alice.address, DUSD);
      await f.ledger.connect(f.pauser).pause();
      await f.ledger.connect(f.alice).transfer(f.bob.address, 1n);
      await f.ledger.connect(f.proposer).proposeEpoch(2, SOME_ROOT, ZERO_HASH, ZERO_HASH, [], []);
      await time.increase(TIMELOCK);
      await f.ledger.acceptEpoch();
      await f.ledger.connect(f.buyer).requestClose(f.ds1);
      await time.increase(GRACE);
      await expect(f.ledger.finalizeClose(f.ds1)).to.emit(f.ledger, "DatasetClosed");
      await expectSolvent(f);
    });
  });

  describe("datasets", function () {
    it("createAndFund: creates datasetIdOf(buyer, salt), fee snapshot, funded; emits both events", async function () {
      const f = await loadFixture(deployFixture);
      expect(await f.ledger.connect(f.buyer).createAndFund.staticCall(SALT(1), DUSD, FUNDING)).to.equal(f.ds1);
      const tx = f.ledger.connect(f.buyer).createAndFund(SALT(1), DUSD, FUNDING);
      await expect(tx)
        .to.emit(f.ledger, "DatasetCreated")
        .withArgs(f.ds1, f.buyer.address, DUSD, FEE_BPS, SALT(1))
        .and.to.emit(f.ledger, "DatasetFunded")
        .withArgs(f.ds1, f.buyer.address, FUNDING, FUNDING);
      await expect(tx).to.changeTokenBalances(f.dusd, [f.buyer, f.ledger], [-FUNDING, FUNDING]);
      const d = await f.ledger.dataset(f.ds1);
      expect(d.buyer).to.equal(f.buyer.address);
      expect(d.token).to.equal(BigInt(DUSD));
      expect(d.feeBps).to.equal(FEE_BPS);
      expect(d.status).to.equal(OPEN);
      expect(d.available).to.equal(FUNDING);
      expect(d.debited).to.equal(0n);
      await f.ledger.connect(f.buyer).createAndFund(SALT(2), EURC, 1n);
      expect((await f.ledger.dataset(f.ds2)).token).to.equal(BigInt(EURC));
      await expectSolvent(f);
    });

    it("createAndFund: reverts LedgerUnknownToken for index 0 and unlisted indices", async function () {
      const f = await loadFixture(deployFixture);
      for (const token of [0, 3]) {
        await expect(f.ledger.connect(f.buyer).createAndFund(SALT(1), token, FUNDING))
          .to.be.revertedWithCustomError(f.ledger, "LedgerUnknownToken")
          .withArgs(token);
      }
    });

    it("createAndFund: refuses a fee-on-transfer token with DatasetShortDeposit", async function () {
      const f = await loadFixture(deployFixture);
      await f.ledger.connect(f.admin).listToken(await f.fot.getAddress());
      await expect(f.ledger.connect(f.buyer).createAndFund(SALT(1), 3, 10_000n))
        .to.be.revertedWithCustomError(f.ledger, "DatasetShortDeposit")
        .withArgs(f.ds1, 10_000n, 9_900n);
    });

    it("createAndFund: reverts with the token's own error without an allowance", async function () {
      const f = await loadFixture(deployFixture);
      await f.dusd.connect(f.buyer).approve(f.ledgerAddress, 0);
      await expect(f.ledger.connect(f.buyer).createAndFund(SALT(1), DUSD, 5n))
        .to.be.revertedWithCustomError(f.dusd, "ERC20InsufficientAllowance")
        .withArgs(f.ledgerAddress, 0n, 5n);
    });

    it("datasetIdOf: keccak256(abi.encode(buyer, salt)) as uint256, different per buyer for a salt", async function () {
      const f = await loadFixture(deployFixture);
      const salt = ethers.id("a dataset");
      const ofBuyer = await f.ledger.datasetIdOf(f.buyer.address, salt);
      const ofStranger = await f.ledger.datasetIdOf(f.stranger.address, salt);
      expect(ofBuyer).to.equal(datasetId(f.buyer.address, salt));
      expect(ofStranger).to.equal(datasetId(f.stranger.address, salt));
      expect(ofBuyer).to.not.equal(ofStranger);
      expect(await f.ledger.datasetIdOf(f.buyer.address, SALT(1))).to.equal(f.ds1);
      expect(await f.ledger.datasetIdOf(f.buyer.address, SALT(2))).to.equal(f.ds2);
      expect(f.ds1).to.not.equal(f.ds2);
    });

    it("createAndFund: reverts DatasetExists for a salt the buyer already used", async function () {
      const f = await loadFixture(fundedFixture);
      for (const [salt, token] of [
        [SALT(1), DUSD],
        [SALT(1), EURC],
        [SALT(2), EURC],
      ]) {
        await expect(f.ledger.connect(f.buyer).createAndFund(salt, token, 0n))
          .to.be.revertedWithCustomError(f.ledger, "DatasetExists")
          .withArgs(datasetId(f.buyer.address, salt));
      }
      // a closed dataset's id is not reusable either
      await f.ledger.connect(f.buyer).requestClose(f.ds1);
      await time.increase(GRACE);
      await f.ledger.finalizeClose(f.ds1);
      await expect(f.ledger.connect(f.buyer).createAndFund(SALT(1), DUSD, 1n))
        .to.be.revertedWithCustomError(f.ledger, "DatasetExists")
        .withArgs(f.ds1);
      expect((await f.ledger.dataset(f.ds1)).status).to.equal(CLOSED);
      await expectSolvent(f);
    });

    it("createAndFund: the same salt by another buyer creates a different dataset", async function () {
      const f = await loadFixture(fundedFixture);
      const theirs = datasetId(f.funder.address, SALT(1));
      expect(theirs).to.not.equal(f.ds1);
      await expect(f.ledger.connect(f.funder).createAndFund(SALT(1), EURC, 5n))
        .to.emit(f.ledger, "DatasetCreated")
        .withArgs(theirs, f.funder.address, EURC, FEE_BPS, SALT(1))
        .and.to.emit(f.ledger, "DatasetFunded")
        .withArgs(theirs, f.funder.address, 5n, 5n);
      const d = await f.ledger.dataset(theirs);
      expect(d.buyer).to.equal(f.funder.address);
      expect(d.token).to.equal(BigInt(EURC));
      expect(d.available).to.equal(5n);
      // the buyer's dataset with that salt is untouched
      const mine = await f.ledger.dataset(f.ds1);
      expect(mine.buyer).to.equal(f.buyer.address);
      expect(mine.token).to.equal(BigInt(DUSD));
      expect(mine.available).to.equal(FUNDING);
      await expectSolvent(f);
    });

    it("fund: anyone adds to an open dataset", async function () {
      const f = await loadFixture(fundedFixture);
      await expect(f.ledger.connect(f.funder).fund(f.ds1, 5n))
        .to.emit(f.ledger, "DatasetFunded")
        .withArgs(f.ds1, f.funder.address, 5n, FUNDING + 5n);
      expect((await f.ledger.dataset(f.ds1)).available).to.equal(FUNDING + 5n);
      await expectSolvent(f);
    });

    it("fund: reverts DatasetUnknown and DatasetNotOpen", async function () {
      const f = await loadFixture(fundedFixture);
      await expect(f.ledger.connect(f.funder).fund(f.unknown, 5n))
        .to.be.revertedWithCustomError(f.ledger, "DatasetUnknown")
        .withArgs(f.unknown);
      await f.ledger.connect(f.buyer).requestClose(f.ds1);
      await expect(f.ledger.connect(f.funder).fund(f.ds1, 5n))
        .to.be.revertedWithCustomError(f.ledger, "DatasetNotOpen")
        .withArgs(f.ds1, CLOSING);
    });

    it("fund: refuses a fee-on-transfer token with DatasetShortDeposit", async function () {
      const f = await loadFixture(deployFixture);
      await f.ledger.connect(f.admin).listToken(await f.fot.getAddress());
      // A fee-free mint-free path does not exist for FOT, so fund a dataset created with 0 first.
      await f.ledger.connect(f.buyer).createAndFund(SALT(1), 3, 0n);
      await expect(f.ledger.connect(f.funder).fund(f.ds1, 200n))
        .to.be.revertedWithCustomError(f.ledger, "DatasetShortDeposit")
        .withArgs(f.ds1, 200n, 198n);
    });

    it("fundWithPermit: funds with a permit and no prior approval, in one call", async function () {
      const f = await loadFixture(fundedFixture);
      await f.dusd.connect(f.funder).approve(f.ledgerAddress, 0);
      const deadline = (await time.latest()) + 3600;
      const sig = await signPermit(f.dusd, f.funder, f.ledgerAddress, 7n, deadline);
      await expect(f.ledger.connect(f.funder).fundWithPermit(f.ds1, 7n, deadline, sig.v, sig.r, sig.s))
        .to.emit(f.ledger, "DatasetFunded")
        .withArgs(f.ds1, f.funder.address, 7n, FUNDING + 7n);
      expect(await f.dusd.allowance(f.funder.address, f.ledgerAddress)).to.equal(0n);
      await expectSolvent(f);
    });

    it("fundWithPermit: still funds when the permit was front-run", async function () {
      const f = await loadFixture(fundedFixture);
      await f.dusd.connect(f.funder).approve(f.ledgerAddress, 0);
      const deadline = (await time.latest()) + 3600;
      const sig = await signPermit(f.dusd, f.funder, f.ledgerAddress, 7n, deadline);
      await f.dusd.connect(f.stranger).permit(f.funder.address, f.ledgerAddress, 7n, deadline, sig.v, sig.r, sig.s);
      await expect(f.ledger.connect(f.funder).fundWithPermit(f.ds1, 7n, deadline, sig.v, sig.r, sig.s)).to.emit(
        f.ledger,
        "DatasetFunded",
      );
    });

    it("fundWithPermit: a bad permit without allowance reverts with the token's error", async function () {
      const f = await loadFixture(fundedFixture);
      await f.dusd.connect(f.funder).approve(f.ledgerAddress, 0);
      const deadline = (await time.latest()) + 3600;
      const sig = await signPermit(f.dusd, f.stranger, f.ledgerAddress, 7n, deadline); // wrong signer
      await expect(f.ledger.connect(f.funder).fundWithPermit(f.ds1, 7n, deadline, sig.v, sig.r, sig.s))
        .to.be.revertedWithCustomError(f.dusd, "ERC20InsufficientAllowance")
        .withArgs(f.ledgerAddress, 0n, 7n);
    });

    it("fundWithPermit: reverts DatasetUnknown and DatasetNotOpen", async function () {
      const f = await loadFixture(fundedFixture);
      const sig = await signPermit(f.dusd, f.funder, f.ledgerAddress, 7n, ethers.MaxUint256);
      await expect(f.ledger.connect(f.funder).fundWithPermit(f.unknown, 7n, ethers.MaxUint256, sig.v, sig.r, sig.s))
        .to.be.revertedWithCustomError(f.ledger, "DatasetUnknown")
        .withArgs(f.unknown);
      await f.ledger.connect(f.buyer).requestClose(f.ds1);
      await expect(f.ledger.connect(f.funder).fundWithPermit(f.ds1, 7n, ethers.MaxUint256, sig.v, sig.r, sig.s))
        .to.be.revertedWithCustomError(f.ledger, "DatasetNotOpen")
        .withArgs(f.ds1, CLOSING);
    });

    it("requestClose: the buyer starts closing; emits DatasetCloseRequested with the due time", async function () {
      const f = await loadFixture(fundedFixture);
      const tx = await f.ledger.connect(f.buyer).requestClose(f.ds1);
      const at = BigInt(await time.latest());
      await expect(tx).to.emit(f.ledger, "DatasetCloseRequested").withArgs(f.ds1, at + GRACE);
      const d = await f.ledger.dataset(f.ds1);
      expect(d.status).to.equal(CLOSING);
      expect(d.closeRequestedAt).to.equal(at);
    });

    it("requestClose: reverts DatasetUnknown, DatasetNotBuyer, DatasetNotOpen", async function () {
      const f = await loadFixture(fundedFixture);
      await expect(f.ledger.connect(f.buyer).requestClose(f.unknown))
        .to.be.revertedWithCustomError(f.ledger, "DatasetUnknown")
        .withArgs(f.unknown);
      await expect(f.ledger.connect(f.stranger).requestClose(f.ds1))
        .to.be.revertedWithCustomError(f.ledger, "DatasetNotBuyer")
        .withArgs(f.ds1, f.stranger.address);
      await f.ledger.connect(f.buyer).requestClose(f.ds1);
      await expect(f.ledger.connect(f.buyer).requestClose(f.ds1))
        .to.be.revertedWithCustomError(f.ledger, "DatasetNotOpen")
        .withArgs(f.ds1, CLOSING);
    });

    it("finalizeClose: after the grace period anyone closes and the buyer gets `available`", async function () {
      const f = await loadFixture(acceptedFixture);
      await f.ledger.connect(f.buyer).requestClose(f.ds1);
      await time.increase(GRACE);
      const refund = FUNDING - f.debits[0] - feeOf(f.debits[0]);
      const tx = f.ledger.connect(f.stranger).finalizeClose(f.ds1);
      await expect(tx).to.emit(f.ledger, "DatasetClosed").withArgs(f.ds1, f.buyer.address, refund);
      await expect(tx).to.changeTokenBalances(f.dusd, [f.ledger, f.buyer], [-refund, refund]);
      const d = await f.ledger.dataset(f.ds1);
      expect(d.status).to.equal(CLOSED);
      expect(d.available).to.equal(0n);
      // labels verified before the close are still payable
      await expect(claimOf(f, f.tree, f.bob.address, DUSD)).to.changeTokenBalance(f.dusd, f.bob, 50_000_000n);
      await expectSolvent(f);
    });

    it("finalizeClose: on a closed dataset refunds nothing more, and does not revert", async function () {
      const f = await loadFixture(fundedFixture);
      await f.ledger.connect(f.buyer).requestClose(f.ds1);
      await time.increase(GRACE);
      await f.ledger.finalizeClose(f.ds1);
      await expect(f.ledger.finalizeClose(f.ds1))
        .to.emit(f.ledger, "DatasetClosed")
        .withArgs(f.ds1, f.buyer.address, 0);
      await expectSolvent(f);
    });

    it("deposits and refunds refuse a token that re-enters the ledger (ReentrancyGuardReentrantCall)", async function () {
      const f = await loadFixture(deployFixture);
      const ree = await ethers.deployContract("ReentrantToken");
      await f.ledger.connect(f.admin).listToken(await ree.getAddress());
      const REE = 3;
      await ree.mint(f.buyer.address, FUNDING);
      await ree.connect(f.buyer).approve(f.ledgerAddress, ethers.MaxUint256);
      const id = datasetId(f.buyer.address, SALT(7));
      const reenter = (data) => ree.arm(f.ledgerAddress, data);
      const guarded = (tx) => expect(tx).to.be.revertedWithCustomError(f.ledger, "ReentrancyGuardReentrantCall");

      await reenter(f.ledger.interface.encodeFunctionData("createAndFund", [SALT(8), REE, 1n]));
      await guarded(f.ledger.connect(f.buyer).createAndFund(SALT(7), REE, 100n));
      // A reverted transfer rolls back the token's own disarming too: it stays armed until told otherwise.
      await ree.arm(ethers.ZeroAddress, "0x");
      await f.ledger.connect(f.buyer).createAndFund(SALT(7), REE, 100n);
      await reenter(f.ledger.interface.encodeFunctionData("fund", [id, 1n]));
      await guarded(f.ledger.connect(f.buyer).fund(id, 100n));
      const permitArgs = [id, 100n, ethers.MaxUint256, 27, ethers.ZeroHash, ethers.ZeroHash]; // REE has no permit: skipped
      await reenter(f.ledger.interface.encodeFunctionData("fundWithPermit", permitArgs));
      await guarded(f.ledger.connect(f.buyer).fundWithPermit(...permitArgs));
      await f.ledger.connect(f.buyer).requestClose(id);
      await time.increase(GRACE);
      await reenter(f.ledger.interface.encodeFunctionData("finalizeClose", [id]));
      await guarded(f.ledger.finalizeClose(id));
      await ree.arm(ethers.ZeroAddress, "0x");
      expect((await f.ledger.dataset(id)).available).to.equal(100n);
      await expect(f.ledger.finalizeClose(id)).to.changeTokenBalances(ree, [f.buyer, f.ledger], [100n, -100n]);
      await expectSolvent(f);
    });

    it("finalizeClose: reverts DatasetUnknown, DatasetNotClosing, DatasetCloseNotDue", async function () {
      const f = await loadFixture(fundedFixture);
      await expect(f.ledger.finalizeClose(f.unknown))
        .to.be.revertedWithCustomError(f.ledger, "DatasetUnknown")
        .withArgs(f.unknown);
      await expect(f.ledger.finalizeClose(f.ds1))
        .to.be.revertedWithCustomError(f.ledger, "DatasetNotClosing")
        .withArgs(f.ds1, OPEN);
      await f.ledger.connect(f.buyer).requestClose(f.ds1);
      const dueAt = BigInt(await time.latest()) + GRACE;
      await time.increase(GRACE - 10n);
      await expect(f.ledger.finalizeClose(f.ds1))
        .to.be.revertedWithCustomError(f.ledger, "DatasetCloseNotDue")
        .withArgs(f.ds1, dueAt);
    });
  });

  describe("epochs", function () {
    it("proposeEpoch: debits each dataset plus its fee, stores the commitment, emits every input", async function () {
      const f = await loadFixture(fundedFixture);
      const ids = [f.ds1, f.ds2];
      const debits = [100_000n, 30_000n];
      const tx = await f.ledger.connect(f.proposer).proposeEpoch(1, ethers.id("root"), LABEL_ROOT, CONTENT_HASH, ids, debits);
      const proposedAt = BigInt(await time.latest());
      await expect(tx)
        .to.emit(f.ledger, "EpochProposed")
        .withArgs(1, ethers.id("root"), LABEL_ROOT, CONTENT_HASH, ids, debits, proposedAt + TIMELOCK);
      const d1 = await f.ledger.dataset(f.ds1);
      expect(d1.available).to.equal(FUNDING - 100_000n - feeOf(100_000n));
      expect(d1.debited).to.equal(100_000n);
      expect(await f.ledger.tokenState(DUSD)).to.deep.equal([100_000n, feeOf(100_000n)]);
      expect(await f.ledger.tokenState(EURC)).to.deep.equal([30_000n, feeOf(30_000n)]);
      expect(await f.ledger.epochCommitment(1)).to.equal(commitment(ethers.id("root"), LABEL_ROOT, CONTENT_HASH));
      const pending = await f.ledger.pendingEpoch();
      expect(pending.epoch).to.equal(1n);
      expect(pending.root).to.equal(ethers.id("root"));
      expect(pending.proposedAt).to.equal(BigInt(await time.latest()));
      expect(await f.ledger.acceptedEpoch()).to.equal(0n);
      expect(await f.ledger.payoutRoot()).to.equal(ZERO_HASH);
      await expectSolvent(f);
    });

    it("proposeEpoch: root proposer only", async function () {
      const f = await loadFixture(fundedFixture);
      await expect(f.ledger.connect(f.stranger).proposeEpoch(1, SOME_ROOT, ZERO_HASH, ZERO_HASH, [], []))
        .to.be.revertedWithCustomError(f.ledger, "AccessControlUnauthorizedAccount")
        .withArgs(f.stranger.address, ROLES.rootProposer);
    });

    it("proposeEpoch: reverts EpochOutOfOrder unless it is acceptedEpoch + 1", async function () {
      const f = await loadFixture(fundedFixture);
      for (const epoch of [0, 2]) {
        await expect(f.ledger.connect(f.proposer).proposeEpoch(epoch, SOME_ROOT, ZERO_HASH, ZERO_HASH, [], []))
          .to.be.revertedWithCustomError(f.ledger, "EpochOutOfOrder")
          .withArgs(epoch, 1);
      }
    });

    it("proposeEpoch: reverts EpochPending while the pending one is inside its timelock", async function () {
      const f = await loadFixture(fundedFixture);
      await f.ledger.connect(f.proposer).proposeEpoch(1, SOME_ROOT, ZERO_HASH, ZERO_HASH, [], []);
      // the next block's timestamp is one second short of the end of the timelock
      await time.setNextBlockTimestamp(BigInt(await time.latest()) + TIMELOCK - 1n);
      await expect(f.ledger.connect(f.proposer).proposeEpoch(2, SOME_ROOT, ZERO_HASH, ZERO_HASH, [], []))
        .to.be.revertedWithCustomError(f.ledger, "EpochPending")
        .withArgs(1);
    });

    it("proposeEpoch: accepts the pending epoch first once its timelock has passed", async function () {
      const f = await loadFixture(acceptedFixture);
      const next = payoutTree([[f.alice.address, DUSD, 150_000_000n, 3_000_000n]]);
      await f.ledger.connect(f.proposer).proposeEpoch(2, next.root, LABEL_ROOT, CONTENT_HASH, [f.ds1], [50_000_000n]);
      await time.increase(TIMELOCK);
      const root3 = ethers.id("epoch 3");
      await expect(f.ledger.connect(f.proposer).proposeEpoch(3, root3, LABEL_ROOT, CONTENT_HASH, [], []))
        .to.emit(f.ledger, "EpochAccepted")
        .withArgs(2, next.root)
        .and.to.emit(f.ledger, "EpochProposed");
      expect(await f.ledger.acceptedEpoch()).to.equal(2n);
      expect(await f.ledger.payoutRoot()).to.equal(next.root);
      expect((await f.ledger.pendingEpoch()).epoch).to.equal(3n);
      // epoch 2's root is claimable at once: alice gets the 50 dUSD it added
      const p = payoutFor(next, f.alice.address, DUSD);
      await expect(f.ledger.claim(p.account, p.token, p.cumulativePayment, p.cumulativeReward, p.proof))
        .to.emit(f.ledger, "Claimed");
      await expectSolvent(f);
    });

    it("proposeEpoch: reverts EpochDebitsLengthMismatch", async function () {
      const f = await loadFixture(fundedFixture);
      await expect(f.ledger.connect(f.proposer).proposeEpoch(1, SOME_ROOT, ZERO_HASH, ZERO_HASH, [f.ds1, f.ds2], [1n]))
        .to.be.revertedWithCustomError(f.ledger, "EpochDebitsLengthMismatch")
        .withArgs(2, 1);
    });

    it("proposeEpoch: reverts DatasetUnknown and DatasetInsufficientFunds", async function () {
      const f = await loadFixture(fundedFixture);
      await expect(f.ledger.connect(f.proposer).proposeEpoch(1, SOME_ROOT, ZERO_HASH, ZERO_HASH, [f.unknown], [1n]))
        .to.be.revertedWithCustomError(f.ledger, "DatasetUnknown")
        .withArgs(f.unknown);
      await expect(f.ledger.connect(f.proposer).proposeEpoch(1, SOME_ROOT, ZERO_HASH, ZERO_HASH, [f.ds1], [FUNDING]))
        .to.be.revertedWithCustomError(f.ledger, "DatasetInsufficientFunds")
        .withArgs(f.ds1, FUNDING, FUNDING + feeOf(FUNDING));
    });

    it("proposeEpoch: debits a closing dataset, refuses a closed one with DatasetIsClosed", async function () {
      const f = await loadFixture(fundedFixture);
      await f.ledger.connect(f.buyer).requestClose(f.ds1);
      await f.ledger.connect(f.proposer).proposeEpoch(1, SOME_ROOT, ZERO_HASH, ZERO_HASH, [f.ds1], [1_000n]);
      await time.increase(GRACE);
      await f.ledger.acceptEpoch();
      await f.ledger.finalizeClose(f.ds1);
      await expect(f.ledger.connect(f.proposer).proposeEpoch(2, SOME_ROOT, ZERO_HASH, ZERO_HASH, [f.ds1], [1n]))
        .to.be.revertedWithCustomError(f.ledger, "DatasetIsClosed")
        .withArgs(f.ds1);
      await expectSolvent(f);
    });

    it("acceptEpoch: anyone, once the timelock has passed; the root becomes claimable", async function () {
      const f = await loadFixture(fundedFixture);
      await f.ledger.connect(f.proposer).proposeEpoch(1, ethers.id("root"), ZERO_HASH, ZERO_HASH, [], []);
      const acceptableAt = BigInt(await time.latest()) + TIMELOCK;
      await time.increaseTo(acceptableAt - 2n); // the next block is at acceptableAt - 1
      await expect(f.ledger.connect(f.stranger).acceptEpoch())
        .to.be.revertedWithCustomError(f.ledger, "EpochTimelocked")
        .withArgs(1, acceptableAt);
      await expect(f.ledger.connect(f.stranger).acceptEpoch())
        .to.emit(f.ledger, "EpochAccepted")
        .withArgs(1, ethers.id("root"));
      expect(await f.ledger.payoutRoot()).to.equal(ethers.id("root"));
      expect(await f.ledger.acceptedEpoch()).to.equal(1n);
      expect(await f.ledger.pendingEpoch()).to.deep.equal([0n, ZERO_HASH, 0n]);
    });

    it("acceptEpoch: reverts EpochNonePending", async function () {
      const f = await loadFixture(acceptedFixture);
      await expect(f.ledger.acceptEpoch()).to.be.revertedWithCustomError(f.ledger, "EpochNonePending");
    });

    it("acceptEpoch: a pending root is not claimable before acceptance", async function () {
      const f = await loadFixture(fundedFixture);
      const tree = payoutTree([[f.alice.address, DUSD, 10n, 1n], [f.bob.address, DUSD, 10n, 1n]]);
      await f.ledger.connect(f.proposer).proposeEpoch(1, tree.root, ZERO_HASH, ZERO_HASH, [f.ds1], [20n]);
      await expect(claimOf(f, tree, f.alice.address, DUSD))
        .to.be.revertedWithCustomError(f.ledger, "ClaimInvalidProof")
        .withArgs(f.alice.address, DUSD);
    });

    it("revokeEpoch: the guardian drops the pending epoch and returns debits and fees", async function () {
      const f = await loadFixture(acceptedFixture);
      const before = await f.ledger.dataset(f.ds1);
      const ids = [f.ds1, f.ds2];
      const debits = [10_000n, 20_000n];
      await f.ledger.connect(f.proposer).proposeEpoch(2, ethers.id("bad"), ZERO_HASH, ZERO_HASH, ids, debits);
      await time.increase(TIMELOCK - 10n); // still inside the window
      await expect(f.ledger.connect(f.guardian).revokeEpoch(ids, debits)).to.emit(f.ledger, "EpochRevoked").withArgs(2);
      const after = await f.ledger.dataset(f.ds1);
      expect(after.available).to.equal(before.available);
      expect(after.debited).to.equal(before.debited);
      expect(await f.ledger.tokenState(DUSD)).to.deep.equal([f.debits[0], feeOf(f.debits[0])]);
      expect(await f.ledger.epochCommitment(2)).to.equal(ZERO_HASH);
      expect(await f.ledger.pendingEpoch()).to.deep.equal([0n, ZERO_HASH, 0n]);
      await expect(f.ledger.acceptEpoch()).to.be.revertedWithCustomError(f.ledger, "EpochNonePending");
      expect(await f.ledger.payoutRoot()).to.equal(f.tree.root);
      // the same epoch number can be proposed again
      await f.ledger.connect(f.proposer).proposeEpoch(2, ethers.id("good"), ZERO_HASH, ZERO_HASH, [], []);
      await expectSolvent(f);
    });

    it("revokeEpoch: guardian only", async function () {
      const f = await loadFixture(fundedFixture);
      await expect(f.ledger.connect(f.stranger).revokeEpoch([], []))
        .to.be.revertedWithCustomError(f.ledger, "AccessControlUnauthorizedAccount")
        .withArgs(f.stranger.address, ROLES.guardian);
    });

    it("revokeEpoch: reverts EpochNonePending", async function () {
      const f = await loadFixture(acceptedFixture);
      await expect(f.ledger.connect(f.guardian).revokeEpoch([], [])).to.be.revertedWithCustomError(
        f.ledger,
        "EpochNonePending",
      );
    });

    it("revokeEpoch: reverts EpochDebitsMismatch for a list other than the proposed one", async function () {
      const f = await loadFixture(fundedFixture);
      await f.ledger.connect(f.proposer).proposeEpoch(1, SOME_ROOT, ZERO_HASH, ZERO_HASH, [f.ds1], [100n]);
      await expect(f.ledger.connect(f.guardian).revokeEpoch([f.ds1], [101n]))
        .to.be.revertedWithCustomError(f.ledger, "EpochDebitsMismatch")
        .withArgs(debitsHash([f.ds1], [100n]), debitsHash([f.ds1], [101n]));
    });

    it("revokeEpoch: a closed dataset's returned debit is refunded by finalizeClose", async function () {
      const f = await loadFixture(fundedFixture);
      await f.ledger.connect(f.buyer).requestClose(f.ds1);
      await time.increase(GRACE);
      await f.ledger.connect(f.proposer).proposeEpoch(1, SOME_ROOT, ZERO_HASH, ZERO_HASH, [f.ds1], [1_000n]);
      await f.ledger.finalizeClose(f.ds1);
      await f.ledger.connect(f.guardian).revokeEpoch([f.ds1], [1_000n]);
      const back = 1_000n + feeOf(1_000n);
      await expect(f.ledger.finalizeClose(f.ds1)).to.changeTokenBalance(f.dusd, f.buyer, back);
      await expectSolvent(f);
    });

    it("revokeEpoch: reverts EpochRevokeWindowClosed once the timelock has passed, accepted or not", async function () {
      const f = await loadFixture(fundedFixture);
      await f.ledger.connect(f.proposer).proposeEpoch(1, SOME_ROOT, ZERO_HASH, ZERO_HASH, [f.ds1], [100n]);
      const acceptableAt = BigInt(await time.latest()) + TIMELOCK;
      await time.increaseTo(acceptableAt);
      await expect(f.ledger.connect(f.guardian).revokeEpoch([f.ds1], [100n]))
        .to.be.revertedWithCustomError(f.ledger, "EpochRevokeWindowClosed")
        .withArgs(1, acceptableAt);
      await expect(f.ledger.acceptEpoch()).to.emit(f.ledger, "EpochAccepted").withArgs(1, SOME_ROOT);
      await expectSolvent(f);
    });

    it("withdrawFees keeps the pending epoch's fees for a revoke, and pays them once it is final", async function () {
      const f = await loadFixture(fundedFixture);
      await f.ledger.connect(f.proposer).proposeEpoch(1, SOME_ROOT, ZERO_HASH, ZERO_HASH, [f.ds1], [100_000n]);
      await time.increase(TIMELOCK);
      await f.ledger.connect(f.proposer).proposeEpoch(2, ethers.id("two"), ZERO_HASH, ZERO_HASH, [f.ds1, f.ds2], [200_000n, 40_000n]);
      // epoch 1 is final: its fee goes; epoch 2's stays, in dUSD (ds1) and in EURC (ds2)
      await expect(f.ledger.connect(f.admin).withdrawFees(DUSD, f.treasury.address))
        .to.emit(f.ledger, "FeesWithdrawn")
        .withArgs(DUSD, f.treasury.address, feeOf(100_000n));
      await expect(f.ledger.connect(f.admin).withdrawFees(EURC, f.treasury.address))
        .to.emit(f.ledger, "FeesWithdrawn")
        .withArgs(EURC, f.treasury.address, 0n);
      expect((await f.ledger.tokenState(DUSD)).fees).to.equal(feeOf(200_000n));
      expect((await f.ledger.tokenState(EURC)).fees).to.equal(feeOf(40_000n));
      const before = await f.ledger.dataset(f.ds1);
      await f.ledger.connect(f.guardian).revokeEpoch([f.ds1, f.ds2], [200_000n, 40_000n]);
      expect((await f.ledger.dataset(f.ds1)).available).to.equal(before.available + 200_000n + feeOf(200_000n));
      expect((await f.ledger.tokenState(DUSD)).fees).to.equal(0n);
      expect((await f.ledger.tokenState(EURC)).fees).to.equal(0n);
      // epoch 2 again: after its timelock (accepted or not) its fees are withdrawable
      await f.ledger.connect(f.proposer).proposeEpoch(2, ethers.id("two again"), ZERO_HASH, ZERO_HASH, [f.ds1], [200_000n]);
      await expect(f.ledger.connect(f.admin).withdrawFees(DUSD, f.treasury.address))
        .to.emit(f.ledger, "FeesWithdrawn")
        .withArgs(DUSD, f.treasury.address, 0n);
      await time.increase(TIMELOCK); // final, though nobody has accepted it yet
      await expect(f.ledger.connect(f.admin).withdrawFees(DUSD, f.treasury.address)).to.changeTokenBalances(
        f.dusd,
        [f.treasury, f.ledger],
        [feeOf(200_000n), -feeOf(200_000n)],
      );
      await expectSolvent(f);
    });

    it("revokeEpoch: returns a debit whose fee rounds to zero", async function () {
      const f = await loadFixture(fundedFixture);
      const before = await f.ledger.dataset(f.ds1);
      expect(feeOf(30n)).to.equal(0n);
      await f.ledger.connect(f.proposer).proposeEpoch(1, SOME_ROOT, ZERO_HASH, ZERO_HASH, [f.ds1], [30n]);
      await f.ledger.connect(f.guardian).revokeEpoch([f.ds1], [30n]);
      expect((await f.ledger.dataset(f.ds1)).available).to.equal(before.available);
      expect(await f.ledger.tokenState(DUSD)).to.deep.equal([0n, 0n]);
      await expectSolvent(f);
    });

    it("proposeEpoch: reverts EpochEmptyRoot for a zero payout root", async function () {
      const f = await loadFixture(fundedFixture);
      await expect(
        f.ledger.connect(f.proposer).proposeEpoch(1, ZERO_HASH, LABEL_ROOT, CONTENT_HASH, [f.ds1], [100n]),
      ).to.be.revertedWithCustomError(f.ledger, "EpochEmptyRoot");
    });

    it("revokeEpoch: reverts LedgerOwedShortfall when an over-paying root already spent the owed funds", async function () {
      const f = await loadFixture(fundedFixture);
      // epoch 1 debits 50 but its root pays alice 120
      const tree = payoutTree([[f.alice.address, DUSD, 120n, 0n], [f.bob.address, DUSD, 0n, 0n]]);
      await f.ledger.connect(f.proposer).proposeEpoch(1, tree.root, ZERO_HASH, ZERO_HASH, [f.ds1], [50n]);
      await time.increase(TIMELOCK);
      await f.ledger.acceptEpoch();
      await f.ledger.connect(f.proposer).proposeEpoch(2, SOME_ROOT, ZERO_HASH, ZERO_HASH, [f.ds1], [100n]);
      await claimOf(f, tree, f.alice.address, DUSD); // owed 150 -> 30
      await expect(f.ledger.connect(f.guardian).revokeEpoch([f.ds1], [100n]))
        .to.be.revertedWithCustomError(f.ledger, "LedgerOwedShortfall")
        .withArgs(DUSD, 30n, 100n);
    });
  });

  describe("claims", function () {
    it("claim: pays payment and LABEL to the account, anyone calling; emits Transfer and Claimed", async function () {
      const f = await loadFixture(acceptedFixture);
      const p = payoutFor(f.tree, f.alice.address, DUSD);
      const tx = f.ledger.connect(f.relayer).claim(p.account, p.token, p.cumulativePayment, p.cumulativeReward, p.proof);
      await expect(tx)
        .to.emit(f.ledger, "Claimed")
        .withArgs(f.alice.address, DUSD, 100_000_000n, 2_000_000n)
        .and.to.emit(f.ledger, "Transfer")
        .withArgs(ethers.ZeroAddress, f.alice.address, 2_000_000n);
      await expect(tx).to.changeTokenBalances(f.dusd, [f.ledger, f.alice, f.relayer], [-100_000_000n, 100_000_000n, 0n]);
      expect(await f.ledger.balanceOf(f.alice.address)).to.equal(2_000_000n);
      expect(await f.ledger.totalSupply()).to.equal(2_000_000n);
      expect(await f.ledger.claimed(f.alice.address, DUSD)).to.deep.equal([100_000_000n, 2_000_000n]);
      expect((await f.ledger.tokenState(DUSD)).owed).to.equal(f.debits[0] - 100_000_000n);
      await expectSolvent(f);
    });

    it("claim: claiming twice pays nothing more and does not revert", async function () {
      const f = await loadFixture(acceptedFixture);
      await claimOf(f, f.tree, f.alice.address, DUSD);
      const second = claimOf(f, f.tree, f.alice.address, DUSD);
      await expect(second).to.not.emit(f.ledger, "Claimed");
      await expect(second).to.changeTokenBalance(f.dusd, f.alice, 0n);
      expect(await f.ledger.balanceOf(f.alice.address)).to.equal(2_000_000n);
      const p = payoutFor(f.tree, f.alice.address, DUSD);
      expect(
        await f.ledger.claim.staticCall(p.account, p.token, p.cumulativePayment, p.cumulativeReward, p.proof),
      ).to.deep.equal([0n, 0n]);
      await expectSolvent(f);
    });

    it("claim: a later epoch pays only the difference of the cumulatives", async function () {
      const f = await loadFixture(acceptedFixture);
      await claimOf(f, f.tree, f.alice.address, DUSD);
      const tree2 = payoutTree([[f.alice.address, DUSD, 130_000_000n, 2_600_000n], [f.bob.address, DUSD, 50_000_000n, 1_000_000n]]);
      await f.ledger.connect(f.proposer).proposeEpoch(2, tree2.root, ZERO_HASH, ZERO_HASH, [f.ds1], [30_000_000n]);
      await time.increase(TIMELOCK);
      await f.ledger.acceptEpoch();
      await expect(claimOf(f, tree2, f.alice.address, DUSD))
        .to.emit(f.ledger, "Claimed")
        .withArgs(f.alice.address, DUSD, 30_000_000n, 600_000n);
      expect(await f.ledger.claimed(f.alice.address, DUSD)).to.deep.equal([130_000_000n, 2_600_000n]);
      await expectSolvent(f);
    });

    it("claim: a second payment token is counted in otherClaimed, the primary stays in the word", async function () {
      const f = await loadFixture(acceptedFixture);
      await claimOf(f, f.tree, f.alice.address, DUSD); // DUSD becomes alice's primary token
      const tx = claimOf(f, f.tree, f.alice.address, EURC);
      await expect(tx).to.emit(f.ledger, "Claimed").withArgs(f.alice.address, EURC, 40_000_000n, 800_000n);
      await expect(tx).to.changeTokenBalance(f.eurc, f.alice, 40_000_000n);
      expect(await f.ledger.claimed(f.alice.address, DUSD)).to.deep.equal([100_000_000n, 2_000_000n]);
      expect(await f.ledger.claimed(f.alice.address, EURC)).to.deep.equal([40_000_000n, 800_000n]);
      expect(await f.ledger.balanceOf(f.alice.address)).to.equal(2_800_000n);
      // both again: nothing more in either
      await expect(claimOf(f, f.tree, f.alice.address, EURC)).to.not.emit(f.ledger, "Claimed");
      await expect(claimOf(f, f.tree, f.alice.address, DUSD)).to.not.emit(f.ledger, "Claimed");
      expect(await f.ledger.tokenState(EURC)).to.deep.equal([0n, feeOf(40_000_000n)]);
      await expectSolvent(f);
    });

    it("claim: the first token claimed becomes primary, whichever it is", async function () {
      const f = await loadFixture(acceptedFixture);
      await claimOf(f, f.tree, f.alice.address, EURC);
      await claimOf(f, f.tree, f.alice.address, DUSD);
      expect(await f.ledger.claimed(f.alice.address, EURC)).to.deep.equal([40_000_000n, 800_000n]);
      expect(await f.ledger.claimed(f.alice.address, DUSD)).to.deep.equal([100_000_000n, 2_000_000n]);
      expect(await f.ledger.claimed(f.alice.address, 0)).to.deep.equal([0n, 0n]);
      await expectSolvent(f);
    });

    it("claim: reverts ClaimInvalidProof for a wrong amount or account", async function () {
      const f = await loadFixture(acceptedFixture);
      const p = payoutFor(f.tree, f.alice.address, DUSD);
      await expect(f.ledger.claim(p.account, p.token, p.cumulativePayment + 1n, p.cumulativeReward, p.proof))
        .to.be.revertedWithCustomError(f.ledger, "ClaimInvalidProof")
        .withArgs(f.alice.address, DUSD);
      await expect(f.ledger.claim(f.bob.address, p.token, p.cumulativePayment, p.cumulativeReward, p.proof))
        .to.be.revertedWithCustomError(f.ledger, "ClaimInvalidProof")
        .withArgs(f.bob.address, DUSD);
    });

    it("claim: reverts LedgerUnknownToken for a leaf in an unlisted token", async function () {
      const f = await loadFixture(fundedFixture);
      const tree = payoutTree([[f.alice.address, 7, 1n, 1n], [f.bob.address, DUSD, 0n, 0n]]);
      await f.ledger.connect(f.proposer).proposeEpoch(1, tree.root, ZERO_HASH, ZERO_HASH, [], []);
      await time.increase(TIMELOCK);
      await f.ledger.acceptEpoch();
      await expect(claimOf(f, tree, f.alice.address, 7))
        .to.be.revertedWithCustomError(f.ledger, "LedgerUnknownToken")
        .withArgs(7);
    });

    it("claim: a payment above what is owed reverts LedgerOwedShortfall", async function () {
      const f = await loadFixture(fundedFixture);
      const tree = payoutTree([[f.alice.address, DUSD, 1_000n, 0n], [f.bob.address, DUSD, 0n, 0n]]);
      await f.ledger.connect(f.proposer).proposeEpoch(1, tree.root, ZERO_HASH, ZERO_HASH, [f.ds1], [999n]);
      await time.increase(TIMELOCK);
      await f.ledger.acceptEpoch();
      await expect(claimOf(f, tree, f.alice.address, DUSD))
        .to.be.revertedWithCustomError(f.ledger, "LedgerOwedShortfall")
        .withArgs(DUSD, 999n, 1_000n);
      await expectSolvent(f);
    });

    it("claim: a cumulative above 64 bits of LABEL reverts SafeCastOverflowedUintDowncast", async function () {
      const f = await loadFixture(fundedFixture);
      const tooMuch = 1n << 64n;
      const tree = payoutTree([[f.alice.address, DUSD, 0n, tooMuch], [f.bob.address, DUSD, 0n, 0n]]);
      await f.ledger.connect(f.proposer).proposeEpoch(1, tree.root, ZERO_HASH, ZERO_HASH, [], []);
      await time.increase(TIMELOCK);
      await f.ledger.acceptEpoch();
      await expect(claimOf(f, tree, f.alice.address, DUSD))
        .to.be.revertedWithCustomError(f.ledger, "SafeCastOverflowedUintDowncast")
        .withArgs(64, tooMuch);
    });

    it("claimMany: pays every leaf of a multiproof, and a re-send pays nothing", async function () {
      const f = await loadFixture(acceptedFixture);
      const many = multiproofFor(f.tree, [
        [f.alice.address, DUSD],
        [f.bob.address, DUSD],
        [f.carol.address, DUSD],
        [f.alice.address, EURC],
      ]);
      const tx = f.ledger.connect(f.relayer).claimMany(many.leaves, many.proof, many.proofFlags);
      await expect(tx).to.emit(f.ledger, "Claimed").withArgs(f.carol.address, DUSD, 25_000_000n, 500_000n);
      await expect(tx).to.changeTokenBalances(f.dusd, [f.alice, f.bob, f.carol], [100_000_000n, 50_000_000n, 25_000_000n]);
      expect(await f.ledger.balanceOf(f.alice.address)).to.equal(2_800_000n);
      expect(await f.eurc.balanceOf(f.alice.address)).to.equal(40_000_000n);
      const again = f.ledger.connect(f.relayer).claimMany(many.leaves, many.proof, many.proofFlags);
      await expect(again).to.not.emit(f.ledger, "Claimed");
      await expect(again).to.changeTokenBalances(f.dusd, [f.alice, f.bob, f.carol], [0n, 0n, 0n]);
      expect(await f.ledger.totalSupply()).to.equal(4_300_000n);
      await expectSolvent(f);
    });

    it("claim: a leaf with a LABEL reward and no payment credits LABEL and moves no payment token", async function () {
      const f = await loadFixture(fundedFixture);
      const tree = payoutTree([[f.alice.address, DUSD, 0n, 700_000n], [f.bob.address, DUSD, 0n, 0n]]);
      await f.ledger.connect(f.proposer).proposeEpoch(1, tree.root, LABEL_ROOT, CONTENT_HASH, [], []);
      await time.increase(TIMELOCK);
      await f.ledger.acceptEpoch();
      const tx = claimOf(f, tree, f.alice.address, DUSD);
      await expect(tx)
        .to.emit(f.ledger, "Transfer")
        .withArgs(ethers.ZeroAddress, f.alice.address, 700_000n)
        .and.to.emit(f.ledger, "Claimed")
        .withArgs(f.alice.address, DUSD, 0n, 700_000n)
        .and.not.to.emit(f.dusd, "Transfer");
      expect(await f.ledger.balanceOf(f.alice.address)).to.equal(700_000n);
      expect(await f.ledger.totalSupply()).to.equal(700_000n);
      await expectSolvent(f);
    });

    it("claimMany: consecutive leaves of an account-ordered tree need a short multiproof", async function () {
      const f = await loadFixture(fundedFixture);
      // The service's layout: leaves in account order, not sorted by hash. Three claimants first,
      // then 61 other annotators with nothing to claim this epoch: a 64-leaf tree.
      const others = Array.from({ length: 61 }, (_, i) => ethers.getAddress(ethers.id(`annotator ${i}`).slice(0, 42)));
      const claimants = [f.alice.address, f.bob.address, f.carol.address].sort();
      const earnings = [
        ...claimants.map((account, i) => [account, DUSD, BigInt(i + 1) * 10_000_000n, BigInt(i + 1) * 100_000n]),
        ...others.sort().map((account) => [account, DUSD, 0n, 0n]),
      ];
      const tree = payoutTree(earnings, { sortLeaves: false });
      await f.ledger.connect(f.proposer).proposeEpoch(1, tree.root, LABEL_ROOT, CONTENT_HASH, [f.ds1], [60_000_000n]);
      await time.increase(TIMELOCK);
      await f.ledger.acceptEpoch();
      const many = multiproofFor(tree, claimants.map((account) => [account, DUSD]));
      // Three leaves at depth 6 with sorted hashing: two sibling hashes up to their subtree, then
      // one per level above it; a scattered trio would need up to 3 x 5.
      expect(many.proof.length).to.be.at.most(6);
      await expect(f.ledger.connect(f.relayer).claimMany(many.leaves, many.proof, many.proofFlags)).to.changeTokenBalances(
        f.dusd,
        claimants,
        [10_000_000n, 20_000_000n, 30_000_000n],
      );
      for (const [i, account] of claimants.entries()) {
        expect(await f.ledger.balanceOf(account)).to.equal(BigInt(i + 1) * 100_000n);
      }
      await expectSolvent(f);
    });

    it("claimMany: interoperates with single claims, never paying twice", async function () {
      const f = await loadFixture(acceptedFixture);
      await claimOf(f, f.tree, f.bob.address, DUSD);
      const many = multiproofFor(f.tree, [
        [f.alice.address, DUSD],
        [f.bob.address, DUSD],
      ]);
      await expect(f.ledger.claimMany(many.leaves, many.proof, many.proofFlags)).to.changeTokenBalances(
        f.dusd,
        [f.alice, f.bob],
        [100_000_000n, 0n],
      );
      await expect(claimOf(f, f.tree, f.alice.address, DUSD)).to.not.emit(f.ledger, "Claimed");
      expect(await f.ledger.balanceOf(f.bob.address)).to.equal(1_000_000n);
      expect(await f.ledger.balanceOf(f.alice.address)).to.equal(2_000_000n);
      await expectSolvent(f);
    });

    it("claimMany: reverts ClaimInvalidMultiproof for altered leaves", async function () {
      const f = await loadFixture(acceptedFixture);
      const many = multiproofFor(f.tree, [
        [f.alice.address, DUSD],
        [f.bob.address, DUSD],
      ]);
      const altered = many.leaves.map((l, i) => (i === 0 ? { ...l, cumulativePayment: l.cumulativePayment + 1n } : l));
      await expect(f.ledger.claimMany(altered, many.proof, many.proofFlags)).to.be.revertedWithCustomError(
        f.ledger,
        "ClaimInvalidMultiproof",
      );
    });
  });

  describe("full loop", function () {
    it("fund, propose, wait, accept, claim (pull and push), second epoch, close and refund", async function () {
      const f = await loadFixture(deployFixture);
      await f.ledger.connect(f.buyer).createAndFund(SALT(1), DUSD, FUNDING);
      const tree1 = payoutTree([
        [f.alice.address, DUSD, 60_000_000n, 1_200_000n],
        [f.bob.address, DUSD, 40_000_000n, 800_000n],
      ]);
      await f.ledger.connect(f.proposer).proposeEpoch(1, tree1.root, LABEL_ROOT, CONTENT_HASH, [f.ds1], [100_000_000n]);
      await expect(f.ledger.acceptEpoch()).to.be.revertedWithCustomError(f.ledger, "EpochTimelocked").withArgs(1, anyValue);
      await time.increase(TIMELOCK);
      await f.ledger.acceptEpoch();
      await claimOf(f, tree1, f.alice.address, DUSD, f.alice);
      await expectSolvent(f);

      const tree2 = payoutTree([
        [f.alice.address, DUSD, 90_000_000n, 1_800_000n],
        [f.bob.address, DUSD, 70_000_000n, 1_400_000n],
      ]);
      await f.ledger.connect(f.buyer).requestClose(f.ds1);
      await f.ledger.connect(f.proposer).proposeEpoch(2, tree2.root, LABEL_ROOT, CONTENT_HASH, [f.ds1], [60_000_000n]);
      await time.increase(TIMELOCK);
      await f.ledger.connect(f.stranger).acceptEpoch();
      const many = multiproofFor(tree2, [
        [f.alice.address, DUSD],
        [f.bob.address, DUSD],
      ]);
      await f.ledger.connect(f.relayer).claimMany(many.leaves, many.proof, many.proofFlags);
      expect(await f.dusd.balanceOf(f.alice.address)).to.equal(90_000_000n);
      expect(await f.dusd.balanceOf(f.bob.address)).to.equal(70_000_000n);
      expect(await f.ledger.balanceOf(f.bob.address)).to.equal(1_400_000n);
      expect((await f.ledger.tokenState(DUSD)).owed).to.equal(0n);
      await expectSolvent(f);

      await time.increase(GRACE);
      const refund = FUNDING - 160_000_000n - feeOf(160_000_000n);
      await expect(f.ledger.finalizeClose(f.ds1)).to.changeTokenBalance(f.dusd, f.buyer, refund);
      await f.ledger.connect(f.admin).withdrawFees(DUSD, f.treasury.address);
      expect(await f.dusd.balanceOf(f.ledgerAddress)).to.equal(0n);
      await expectSolvent(f);
    });
  });
});
