"""Named networks: `label-ledger deploy --network NAME --rpc URL` on Anvils posing as them (an
Anvil started with the network's chain id, Circle's USDC address given a token's code), the
refusals (wrong chain, a payment token without code, the faucet token on a mainnet) before
anything is sent, and the mirror taking the network's confirmations and reorg depth."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_utils.address import is_checksum_address
from web3.types import RPCEndpoint

from ledger.chain.client import ChainClient, Deployment, account_from_key
from ledger.chain.devnode import DEV_KEYS, Anvil
from ledger.chain.networks import NETWORKS, network_named, network_of_chain
from ledger.jobs import build_mirror
from ledger.kit.config import NetworkMismatch, Settings
from ledger.runtime import Runtime
from tests.conftest import make_schema

pytestmark = pytest.mark.chain

SCRIPT = Path(sys.executable).parent / "label-ledger"
DEPLOYER = account_from_key(DEV_KEYS[0])

# Circle's native USDC, as its developer docs list it (checked for this change)
CIRCLE_USDC = {
    8453: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
    84532: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
    42161: "0xaf88d065e77c8cC2239327C5EDb3A432268e5831",
    421614: "0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d",
    10: "0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85",
    11155420: "0x5fd84259d66Cd46123540766Be93DFE6D43130D7",
}


def deploy(
    *args: str, cwd: Path, key: str = DEV_KEYS[0], **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_LEDGER_")}
    return subprocess.run(
        [str(SCRIPT), "deploy", *args],
        env={**environment, "COLUMNS": "200", "LABEL_LEDGER_DEPLOYER_KEY": key, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def rpc(client: ChainClient, method: str, *params: Any) -> Any:
    response = client.w3.provider.make_request(RPCEndpoint(method), list(params))
    assert "error" not in response, response
    return response["result"]


@pytest.fixture
def base_sepolia() -> Iterator[Anvil]:
    """An Anvil answering with Base Sepolia's chain id."""
    with Anvil(chain_id=84532) as anvil:
        yield anvil


def give_usdc_code(client: ChainClient, address: str) -> None:
    """Puts an ERC-20's code at `address`, as Circle's USDC has on the real network."""
    nonce = int(client.w3.eth.get_transaction_count(DEPLOYER.address, "pending"))
    token = client.deploy("DevStablecoin", DEPLOYER, nonce=nonce)
    rpc(client, "anvil_setCode", address, "0x" + bytes(client.w3.eth.get_code(token)).hex())


def test_every_network_is_described_whole() -> None:
    names = [n.name for n in NETWORKS] + [a for n in NETWORKS for a in n.aliases]
    assert len(names) == len(set(names))
    for network in NETWORKS:
        assert network_named(network.name.upper()) is network
        assert network_of_chain(network.chain_id) is network
        assert network.max_reorg_depth > network.confirmations >= 0
        assert network.block_time > 0
        if network.name == "dev":
            assert (network.usdc, network.l1_fee_model) == (None, "none")
            continue
        assert network.usdc == CIRCLE_USDC[network.chain_id]
        assert is_checksum_address(network.usdc)
        assert network.l1_fee_model in ("op-stack", "arbitrum")
        # the reorg window covers the same time on fast and slow chains alike (minutes)
        assert network.max_reorg_depth * network.block_time >= 300
    assert network_named("op-mainnet").chain_id == 10
    assert network_named("arbitrum").chain_id == 42161


def test_deploy_to_a_named_network_uses_its_usdc_and_records_its_depths(
    base_sepolia: Anvil, tmp_path: Path
) -> None:
    client = ChainClient(base_sepolia.rpc_url)
    usdc = CIRCLE_USDC[84532]
    give_usdc_code(client, usdc)
    out = tmp_path / "deployment.json"
    result = deploy(
        "--network", "base-sepolia", "--rpc", base_sepolia.rpc_url, "--timelock", "3600",
        "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Base Sepolia" in result.stdout
    deployment = Deployment.load(out)
    assert deployment.chain_id == 84532
    assert (deployment.network, deployment.confirmations, deployment.max_reorg_depth) == (
        "base-sepolia",
        5,
        150,
    )
    [token] = deployment.payment_tokens
    assert token.address.lower() == usdc.lower()
    assert token.seed_balances  # USDC had holders before the ledger
    ledger = client.contract("LabelLedger", deployment.ledger)
    assert ledger.functions.tokenIndexOf(usdc).call() == token.index == 1

    # the running service takes the network's depths; the environment still overrides them
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        rpc_url=base_sepolia.rpc_url,
        deployment_file=out,
    )
    make_schema(settings.database_url)
    runtime = Runtime.from_settings(settings)
    try:
        assert runtime.settings.network == "base-sepolia"
        mirror = build_mirror(runtime)
        assert (mirror.confirmations, mirror.max_reorg_depth) == (5, 150)
    finally:
        runtime.db.engine.dispose()
    # a service told it runs on another network than the deployment's refuses to start
    with pytest.raises(NetworkMismatch, match="LABEL_LEDGER_NETWORK is base but"):
        Runtime.from_settings(settings.model_copy(update={"network": "base"}))
    chosen = Runtime.from_settings(
        Settings(
            database_url=settings.database_url,
            rpc_url=settings.rpc_url,
            deployment_file=out,
            confirmations=2,
        )
    )
    try:
        mirror = build_mirror(chosen)
        assert (mirror.confirmations, mirror.max_reorg_depth) == (2, 150)
    finally:
        chosen.db.engine.dispose()


def test_deploy_refuses_a_chain_that_is_not_the_named_network(tmp_path: Path) -> None:
    with Anvil() as dev:  # chain 31337
        client = ChainClient(dev.rpc_url)
        before = client.w3.eth.get_transaction_count(DEPLOYER.address)
        # a provider's key in the URL is not shown back
        keyed = dev.rpc_url + "/?apikey=SECRETPROVIDERKEY"
        result = deploy("--network", "base", "--rpc", keyed, cwd=tmp_path)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "SECRETPROVIDERKEY" not in result.stdout + result.stderr
        assert "wrong_chain" in result.stdout
        assert "serves chain 31337" in result.stdout
        assert "not Base (chain 8453)" in result.stdout
        assert "--network dev" in result.stdout
        assert "nothing was sent" in result.stdout
        assert client.w3.eth.get_transaction_count(DEPLOYER.address) == before
        assert not (tmp_path / ".label-ledger" / "deployment.json").exists()


def test_deploy_refuses_a_payment_token_without_code(base_sepolia: Anvil, tmp_path: Path) -> None:
    client = ChainClient(base_sepolia.rpc_url)
    # no code at Circle's address on this Anvil: USDC is "not there"
    result = deploy("--network", "base-sepolia", "--rpc", base_sepolia.rpc_url, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "payment_token_without_code" in result.stdout
    assert CIRCLE_USDC[84532] in result.stdout
    assert client.w3.eth.get_transaction_count(DEPLOYER.address) == 0
    # an explicit --payment-token without code is refused the same way
    nowhere = "0x000000000000000000000000000000000000dEaD"
    result = deploy(
        "--network", "base-sepolia", "--rpc", base_sepolia.rpc_url, "--payment-token", nowhere,
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert nowhere in result.stdout
    assert client.w3.eth.get_transaction_count(DEPLOYER.address) == 0


def test_the_dev_chain_deploys_as_before_with_its_faucet_token(tmp_path: Path) -> None:
    with Anvil() as dev:
        out = tmp_path / "deployment.json"
        result = deploy(
            "--network", "dev", "--rpc", dev.rpc_url, "--dev-token", "--out", str(out),
            cwd=tmp_path,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        deployment = Deployment.load(out)
        assert (deployment.network, deployment.confirmations) == ("dev", 0)
        [token] = deployment.payment_tokens
        assert not token.seed_balances  # dUSD, born with the ledger
        dusd = ChainClient(dev.rpc_url).contract("DevStablecoin", token.address)
        assert dusd.functions.decimals().call() == 6


def test_the_faucet_token_is_refused_on_a_mainnet(tmp_path: Path) -> None:
    result = deploy("--network", "base", "--rpc", "http://127.0.0.1:9", "--dev-token", cwd=tmp_path)
    assert result.returncode == 2
    assert "not on Base" in result.stdout


def test_an_unknown_network_lists_the_known_ones(tmp_path: Path) -> None:
    result = deploy("--network", "basee", "--rpc", "http://127.0.0.1:9", cwd=tmp_path)
    assert result.returncode == 1
    assert "unknown_network" in result.stdout
    for network in NETWORKS:
        assert network.name in result.stdout
