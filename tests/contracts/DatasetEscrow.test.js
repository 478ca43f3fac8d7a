// DatasetEscrow on its own: the distributor is a plain account here so debit and payOut can be
// driven directly. The wired deployment is exercised in EpochDistributor.test.js.
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");

const SALT = ethers.id("dataset-1");
const FUNDING = 1_000_000_000n; // 1,000 dUSD (6 decimals)

function datasetId(buyer, salt) {
  return ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(["address", "bytes32"], [buyer, salt]));
}

describe("DatasetEscrow", function () {
  async function escrowFixture() {
    const [distributor, buyer, funder, annotator, stranger] = await ethers.getSigners();
    const escrow = await ethers.deployContract("DatasetEscrow", [distributor.address]);
    const dusd = await ethers.deployContract("DevStablecoin");
    const escrowAddress = await escrow.getAddress();
    for (const account of [buyer, funder]) {
      await dusd.mint(account.address, 10n * FUNDING);
      await dusd.connect(account).approve(escrowAddress, ethers.MaxUint256);
    }
    return { escrow, dusd, distributor, buyer, funder, annotator, stranger };
  }

  async function createdFixture() {
    const fixture = await escrowFixture();
    const { escrow, dusd, buyer } = fixture;
    await escrow.connect(buyer).createDataset(SALT, await dusd.getAddress());
    return { ...fixture, id: datasetId(buyer.address, SALT) };
  }

  async function fundedFixture() {
    const fixture = await escrowFixture();
    const { escrow, dusd, buyer } = fixture;
    await escrow.connect(buyer).createAndFund(SALT, await dusd.getAddress(), FUNDING);
    return { ...fixture, id: datasetId(buyer.address, SALT) };
  }

  /** Balance >= liabilities, here as an equality: the escrow holds exactly owed + available. */
  async function expectBalanced(escrow, dusd, ids) {
    let available = 0n;
    for (const id of ids) available += (await escrow.dataset(id)).available;
    const owed = await escrow.owed(await dusd.getAddress());
    expect(await dusd.balanceOf(await escrow.getAddress())).to.equal(owed + available);
  }

  describe("datasetIdOf", function () {
    it("datasetIdOf: is keccak256(abi.encode(buyer, salt))", async function () {
      const { escrow, buyer } = await loadFixture(escrowFixture);
      expect(await escrow.datasetIdOf(buyer.address, SALT)).to.equal(datasetId(buyer.address, SALT));
    });

    it("datasetIdOf: differs per buyer for the same salt", async function () {
      const { escrow, buyer, stranger } = await loadFixture(escrowFixture);
      expect(await escrow.datasetIdOf(buyer.address, SALT)).to.not.equal(
        await escrow.datasetIdOf(stranger.address, SALT),
      );
    });
  });

  describe("constructor and views", function () {
    it("distributor: is the immutable set at deployment", async function () {
      const { escrow, distributor } = await loadFixture(escrowFixture);
      expect(await escrow.distributor()).to.equal(distributor.address);
    });

    it("dataset: returns an empty record for an unknown id", async function () {
      const { escrow } = await loadFixture(escrowFixture);
      const record = await escrow.dataset(ethers.id("nothing"));
      expect(record.buyer).to.equal(ethers.ZeroAddress);
      expect(record.token).to.equal(ethers.ZeroAddress);
      expect(record.closed).to.equal(false);
      expect(record.available).to.equal(0n);
      expect(record.debited).to.equal(0n);
    });

    it("owed: starts at zero", async function () {
      const { escrow, dusd } = await loadFixture(escrowFixture);
      expect(await escrow.owed(await dusd.getAddress())).to.equal(0n);
    });
  });

  describe("createDataset", function () {
    it("createDataset: opens a record owned by the caller and returns its id", async function () {
      const { escrow, dusd, buyer } = await loadFixture(escrowFixture);
      const token = await dusd.getAddress();
      const id = datasetId(buyer.address, SALT);
      expect(await escrow.connect(buyer).createDataset.staticCall(SALT, token)).to.equal(id);
      await expect(escrow.connect(buyer).createDataset(SALT, token))
        .to.emit(escrow, "DatasetCreated")
        .withArgs(id, buyer.address, token, SALT);
      const record = await escrow.dataset(id);
      expect(record.buyer).to.equal(buyer.address);
      expect(record.token).to.equal(token);
      expect(record.closed).to.equal(false);
      expect(record.available).to.equal(0n);
      expect(record.debited).to.equal(0n);
    });

    it("createDataset: the same salt is free for another buyer", async function () {
      const { escrow, dusd, buyer, stranger } = await loadFixture(createdFixture);
      await expect(escrow.connect(stranger).createDataset(SALT, await dusd.getAddress()))
        .to.emit(escrow, "DatasetCreated")
        .withArgs(datasetId(stranger.address, SALT), stranger.address, await dusd.getAddress(), SALT);
      expect((await escrow.dataset(datasetId(buyer.address, SALT))).buyer).to.equal(buyer.address);
    });

    it("createDataset: reverts when the dataset already exists", async function () {
      const { escrow, dusd, buyer, id } = await loadFixture(createdFixture);
      await expect(escrow.connect(buyer).createDataset(SALT, await dusd.getAddress()))
        .to.be.revertedWithCustomError(escrow, "EscrowDatasetExists")
        .withArgs(id);
    });

    it("createDataset: reverts when the dataset exists even after it was closed", async function () {
      const { escrow, dusd, buyer, id } = await loadFixture(createdFixture);
      await escrow.connect(buyer).close(id);
      await expect(escrow.connect(buyer).createDataset(SALT, await dusd.getAddress()))
        .to.be.revertedWithCustomError(escrow, "EscrowDatasetExists")
        .withArgs(id);
    });

    it("createDataset: reverts when the token is the zero address", async function () {
      const { escrow, buyer } = await loadFixture(escrowFixture);
      await expect(escrow.connect(buyer).createDataset(SALT, ethers.ZeroAddress)).to.be.revertedWithCustomError(
        escrow,
        "EscrowZeroToken",
      );
    });
  });

  describe("fund", function () {
    it("fund: anyone adds funds and the event carries the new available", async function () {
      const { escrow, dusd, buyer, funder, id } = await loadFixture(createdFixture);
      await expect(escrow.connect(funder).fund(id, 300n))
        .to.emit(escrow, "DatasetFunded")
        .withArgs(id, funder.address, 300n, 300n);
      await expect(escrow.connect(buyer).fund(id, 200n))
        .to.emit(escrow, "DatasetFunded")
        .withArgs(id, buyer.address, 200n, 500n);
      expect((await escrow.dataset(id)).available).to.equal(500n);
      await expectBalanced(escrow, dusd, [id]);
    });

    it("fund: pulls the tokens from the caller", async function () {
      const { escrow, dusd, funder, id } = await loadFixture(createdFixture);
      await expect(escrow.connect(funder).fund(id, FUNDING)).to.changeTokenBalances(
        dusd,
        [funder, escrow],
        [-FUNDING, FUNDING],
      );
    });

    it("fund: reverts when the amount is zero", async function () {
      const { escrow, funder, id } = await loadFixture(createdFixture);
      await expect(escrow.connect(funder).fund(id, 0n)).to.be.revertedWithCustomError(escrow, "EscrowZeroAmount");
    });

    it("fund: reverts when the dataset is unknown", async function () {
      const { escrow, funder } = await loadFixture(createdFixture);
      const unknown = ethers.id("unknown");
      await expect(escrow.connect(funder).fund(unknown, 1n))
        .to.be.revertedWithCustomError(escrow, "EscrowUnknownDataset")
        .withArgs(unknown);
    });

    it("fund: reverts when the dataset is closed", async function () {
      const { escrow, buyer, funder, id } = await loadFixture(createdFixture);
      await escrow.connect(buyer).close(id);
      await expect(escrow.connect(funder).fund(id, 1n))
        .to.be.revertedWithCustomError(escrow, "EscrowDatasetClosed")
        .withArgs(id);
    });

    it("fund: reverts when the funder has not approved the escrow", async function () {
      const { escrow, dusd, stranger, id } = await loadFixture(createdFixture);
      await dusd.mint(stranger.address, 10n);
      await expect(escrow.connect(stranger).fund(id, 10n))
        .to.be.revertedWithCustomError(dusd, "ERC20InsufficientAllowance")
        .withArgs(await escrow.getAddress(), 0n, 10n);
    });

    it("fund: reverts when a fee-on-transfer token delivers less than the amount", async function () {
      const { escrow, buyer } = await loadFixture(escrowFixture);
      const feeToken = await ethers.deployContract("FeeOnTransferToken");
      await feeToken.mint(buyer.address, 10_000n);
      await feeToken.connect(buyer).approve(await escrow.getAddress(), ethers.MaxUint256);
      await escrow.connect(buyer).createDataset(SALT, await feeToken.getAddress());
      const id = datasetId(buyer.address, SALT);
      await expect(escrow.connect(buyer).fund(id, 10_000n))
        .to.be.revertedWithCustomError(escrow, "EscrowShortDeposit")
        .withArgs(id, 10_000n, 9_900n);
      expect((await escrow.dataset(id)).available).to.equal(0n);
    });
  });

  describe("createAndFund", function () {
    it("createAndFund: opens and funds in one call", async function () {
      const { escrow, dusd, buyer } = await loadFixture(escrowFixture);
      const token = await dusd.getAddress();
      const id = datasetId(buyer.address, SALT);
      expect(await escrow.connect(buyer).createAndFund.staticCall(SALT, token, FUNDING)).to.equal(id);
      const tx = escrow.connect(buyer).createAndFund(SALT, token, FUNDING);
      await expect(tx).to.emit(escrow, "DatasetCreated").withArgs(id, buyer.address, token, SALT);
      await expect(tx).to.emit(escrow, "DatasetFunded").withArgs(id, buyer.address, FUNDING, FUNDING);
      await expect(tx).to.changeTokenBalances(dusd, [buyer, escrow], [-FUNDING, FUNDING]);
      const record = await escrow.dataset(id);
      expect(record.buyer).to.equal(buyer.address);
      expect(record.available).to.equal(FUNDING);
    });

    it("createAndFund: reverts when the amount is zero and creates nothing", async function () {
      const { escrow, dusd, buyer } = await loadFixture(escrowFixture);
      await expect(
        escrow.connect(buyer).createAndFund(SALT, await dusd.getAddress(), 0n),
      ).to.be.revertedWithCustomError(escrow, "EscrowZeroAmount");
      expect((await escrow.dataset(datasetId(buyer.address, SALT))).buyer).to.equal(ethers.ZeroAddress);
    });

    it("createAndFund: reverts when the token is the zero address", async function () {
      const { escrow, buyer } = await loadFixture(escrowFixture);
      await expect(
        escrow.connect(buyer).createAndFund(SALT, ethers.ZeroAddress, FUNDING),
      ).to.be.revertedWithCustomError(escrow, "EscrowZeroToken");
    });

    it("createAndFund: reverts when the dataset already exists", async function () {
      const { escrow, dusd, buyer, id } = await loadFixture(fundedFixture);
      await expect(escrow.connect(buyer).createAndFund(SALT, await dusd.getAddress(), FUNDING))
        .to.be.revertedWithCustomError(escrow, "EscrowDatasetExists")
        .withArgs(id);
    });

    it("createAndFund: reverts when a fee-on-transfer token delivers less than the amount", async function () {
      const { escrow, buyer } = await loadFixture(escrowFixture);
      const feeToken = await ethers.deployContract("FeeOnTransferToken");
      await feeToken.mint(buyer.address, 1_000n);
      await feeToken.connect(buyer).approve(await escrow.getAddress(), ethers.MaxUint256);
      const id = datasetId(buyer.address, SALT);
      await expect(escrow.connect(buyer).createAndFund(SALT, await feeToken.getAddress(), 1_000n))
        .to.be.revertedWithCustomError(escrow, "EscrowShortDeposit")
        .withArgs(id, 1_000n, 990n);
      expect((await escrow.dataset(id)).buyer).to.equal(ethers.ZeroAddress);
    });
  });

  describe("close", function () {
    it("close: refunds everything available to the buyer and marks the dataset closed", async function () {
      const { escrow, dusd, buyer, id } = await loadFixture(fundedFixture);
      const tx = escrow.connect(buyer).close(id);
      await expect(tx).to.emit(escrow, "DatasetClosed").withArgs(id, buyer.address, FUNDING);
      await expect(tx).to.changeTokenBalances(dusd, [buyer, escrow], [FUNDING, -FUNDING]);
      const record = await escrow.dataset(id);
      expect(record.closed).to.equal(true);
      expect(record.available).to.equal(0n);
    });

    it("close: refunds only what was never debited", async function () {
      const { escrow, dusd, distributor, buyer, id } = await loadFixture(fundedFixture);
      await escrow.connect(distributor).debit(id, 1n, 400_000_000n);
      const refund = FUNDING - 400_000_000n;
      const tx = escrow.connect(buyer).close(id);
      await expect(tx).to.emit(escrow, "DatasetClosed").withArgs(id, buyer.address, refund);
      await expect(tx).to.changeTokenBalances(dusd, [buyer, escrow], [refund, -refund]);
      expect(await escrow.owed(await dusd.getAddress())).to.equal(400_000_000n);
      expect((await escrow.dataset(id)).debited).to.equal(400_000_000n);
      await expectBalanced(escrow, dusd, [id]);
    });

    it("close: with nothing available emits a zero refund and moves no tokens", async function () {
      const { escrow, dusd, buyer, id } = await loadFixture(createdFixture);
      const tx = escrow.connect(buyer).close(id);
      await expect(tx).to.emit(escrow, "DatasetClosed").withArgs(id, buyer.address, 0n);
      await expect(tx).to.not.emit(dusd, "Transfer");
    });

    it("close: reverts when the caller is not the buyer", async function () {
      const { escrow, stranger, id } = await loadFixture(fundedFixture);
      await expect(escrow.connect(stranger).close(id))
        .to.be.revertedWithCustomError(escrow, "EscrowNotBuyer")
        .withArgs(id, stranger.address);
    });

    it("close: reverts when the dataset is already closed", async function () {
      const { escrow, buyer, id } = await loadFixture(fundedFixture);
      await escrow.connect(buyer).close(id);
      await expect(escrow.connect(buyer).close(id))
        .to.be.revertedWithCustomError(escrow, "EscrowDatasetClosed")
        .withArgs(id);
    });

    it("close: reverts when the dataset is unknown", async function () {
      const { escrow, buyer } = await loadFixture(escrowFixture);
      const unknown = ethers.id("unknown");
      await expect(escrow.connect(buyer).close(unknown))
        .to.be.revertedWithCustomError(escrow, "EscrowUnknownDataset")
        .withArgs(unknown);
    });
  });

  describe("debit", function () {
    it("debit: moves funds from the dataset into the token's owed pool", async function () {
      const { escrow, dusd, distributor, id } = await loadFixture(fundedFixture);
      await expect(escrow.connect(distributor).debit(id, 1n, 250n))
        .to.emit(escrow, "DatasetDebited")
        .withArgs(id, 1n, 250n, FUNDING - 250n);
      await expect(escrow.connect(distributor).debit(id, 2n, 750n))
        .to.emit(escrow, "DatasetDebited")
        .withArgs(id, 2n, 750n, FUNDING - 1_000n);
      const record = await escrow.dataset(id);
      expect(record.available).to.equal(FUNDING - 1_000n);
      expect(record.debited).to.equal(1_000n);
      expect(await escrow.owed(await dusd.getAddress())).to.equal(1_000n);
      await expectBalanced(escrow, dusd, [id]);
    });

    it("debit: may take everything available", async function () {
      const { escrow, distributor, id } = await loadFixture(fundedFixture);
      await expect(escrow.connect(distributor).debit(id, 1n, FUNDING))
        .to.emit(escrow, "DatasetDebited")
        .withArgs(id, 1n, FUNDING, 0n);
    });

    it("debit: reverts when the caller is not the distributor", async function () {
      const { escrow, buyer, id } = await loadFixture(fundedFixture);
      await expect(escrow.connect(buyer).debit(id, 1n, 1n))
        .to.be.revertedWithCustomError(escrow, "EscrowNotDistributor")
        .withArgs(buyer.address);
    });

    it("debit: reverts when the amount is zero", async function () {
      const { escrow, distributor, id } = await loadFixture(fundedFixture);
      await expect(escrow.connect(distributor).debit(id, 1n, 0n)).to.be.revertedWithCustomError(
        escrow,
        "EscrowZeroAmount",
      );
    });

    it("debit: reverts when the dataset is unknown", async function () {
      const { escrow, distributor } = await loadFixture(fundedFixture);
      const unknown = ethers.id("unknown");
      await expect(escrow.connect(distributor).debit(unknown, 1n, 1n))
        .to.be.revertedWithCustomError(escrow, "EscrowUnknownDataset")
        .withArgs(unknown);
    });

    it("debit: reverts when the amount exceeds what is available", async function () {
      const { escrow, distributor, id } = await loadFixture(fundedFixture);
      await expect(escrow.connect(distributor).debit(id, 1n, FUNDING + 1n))
        .to.be.revertedWithCustomError(escrow, "EscrowInsufficientFunds")
        .withArgs(id, FUNDING, FUNDING + 1n);
    });

    it("debit: reverts when the dataset is closed (nothing is available after close)", async function () {
      const { escrow, distributor, buyer, id } = await loadFixture(fundedFixture);
      await escrow.connect(buyer).close(id);
      await expect(escrow.connect(distributor).debit(id, 1n, 1n))
        .to.be.revertedWithCustomError(escrow, "EscrowInsufficientFunds")
        .withArgs(id, 0n, 1n);
    });
  });

  describe("payOut", function () {
    async function owedFixture() {
      const fixture = await fundedFixture();
      await fixture.escrow.connect(fixture.distributor).debit(fixture.id, 1n, 600n);
      return fixture;
    }

    it("payOut: pays from the owed pool to the account", async function () {
      const { escrow, dusd, distributor, annotator, id } = await loadFixture(owedFixture);
      const token = await dusd.getAddress();
      const tx = escrow.connect(distributor).payOut(token, annotator.address, 450n);
      await expect(tx).to.emit(escrow, "PaidOut").withArgs(token, annotator.address, 450n);
      await expect(tx).to.changeTokenBalances(dusd, [annotator, escrow], [450n, -450n]);
      expect(await escrow.owed(token)).to.equal(150n);
      await expectBalanced(escrow, dusd, [id]);
    });

    it("payOut: may pay the whole owed pool", async function () {
      const { escrow, dusd, distributor, annotator } = await loadFixture(owedFixture);
      const token = await dusd.getAddress();
      await escrow.connect(distributor).payOut(token, annotator.address, 600n);
      expect(await escrow.owed(token)).to.equal(0n);
    });

    it("payOut: reverts when the caller is not the distributor", async function () {
      const { escrow, dusd, annotator } = await loadFixture(owedFixture);
      await expect(escrow.connect(annotator).payOut(await dusd.getAddress(), annotator.address, 1n))
        .to.be.revertedWithCustomError(escrow, "EscrowNotDistributor")
        .withArgs(annotator.address);
    });

    it("payOut: reverts when the amount exceeds what is owed in that token", async function () {
      const { escrow, dusd, distributor, annotator } = await loadFixture(owedFixture);
      const token = await dusd.getAddress();
      await expect(escrow.connect(distributor).payOut(token, annotator.address, 601n))
        .to.be.revertedWithCustomError(escrow, "EscrowInsufficientOwed")
        .withArgs(token, 600n, 601n);
    });

    it("payOut: cannot touch funds that are still available to a dataset", async function () {
      const { escrow, dusd, distributor, annotator } = await loadFixture(fundedFixture);
      const token = await dusd.getAddress();
      // the escrow holds FUNDING in dUSD, all of it still available to the dataset, none owed
      await expect(escrow.connect(distributor).payOut(token, annotator.address, 1n))
        .to.be.revertedWithCustomError(escrow, "EscrowInsufficientOwed")
        .withArgs(token, 0n, 1n);
    });
  });
});
