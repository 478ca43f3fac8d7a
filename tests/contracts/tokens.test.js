const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");
const { signPermit } = require("./fixtures");

describe("DevStablecoin", function () {
  async function devStablecoinFixture() {
    const [holder, spender, stranger] = await ethers.getSigners();
    const dusd = await ethers.deployContract("DevStablecoin");
    return { dusd, holder, spender, stranger };
  }

  it("constructor: is Dev USD (dUSD) with 6 decimals", async function () {
    const { dusd } = await loadFixture(devStablecoinFixture);
    expect(await dusd.name()).to.equal("Dev USD");
    expect(await dusd.symbol()).to.equal("dUSD");
    expect(await dusd.decimals()).to.equal(6n);
  });

  it("mint: anyone can use the faucet for any account", async function () {
    const { dusd, holder, stranger } = await loadFixture(devStablecoinFixture);
    await expect(dusd.connect(stranger).mint(holder.address, 1_000_000n))
      .to.emit(dusd, "Transfer")
      .withArgs(ethers.ZeroAddress, holder.address, 1_000_000n);
    expect(await dusd.balanceOf(holder.address)).to.equal(1_000_000n);
  });

  it("permit: sets an allowance from an EIP-2612 signature", async function () {
    const { dusd, holder, spender } = await loadFixture(devStablecoinFixture);
    const value = 5_000_000n;
    const deadline = 2n ** 255n;
    const { v, r, s } = await signPermit(dusd, holder, spender.address, value, deadline);

    await expect(dusd.connect(spender).permit(holder.address, spender.address, value, deadline, v, r, s))
      .to.emit(dusd, "Approval")
      .withArgs(holder.address, spender.address, value);
    expect(await dusd.allowance(holder.address, spender.address)).to.equal(value);
    expect(await dusd.nonces(holder.address)).to.equal(1n);
  });
});
