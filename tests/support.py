"""Helpers shared by tests: a handle on the deployed ledger of the test chain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import RPCEndpoint, TxReceipt

from ledger.chain.client import ChainClient, Deployment


@dataclass
class Chain:
    client: ChainClient
    deployment: Deployment
    operator: LocalAccount
    buyer: LocalAccount

    def contract(self, name: str, address: str) -> Contract:
        return self.client.contract(name, address)

    @property
    def dusd(self) -> Contract:
        return self.contract("DevStablecoin", self.deployment.payment_tokens[0].address)

    @property
    def dusd_index(self) -> int:
        return self.deployment.payment_tokens[0].index

    @property
    def ledger(self) -> Contract:
        """The LabelLedger, which is also the LABEL token."""
        return self.contract("LabelLedger", self.deployment.ledger)

    def send(self, call: ContractFunction, key: LocalAccount) -> TxReceipt:
        return self.client.transact(call, key)

    def rpc(self, method: str, *params: Any) -> Any:
        response = self.client.w3.provider.make_request(RPCEndpoint(method), list(params))
        assert "error" not in response, response
        return response["result"]

    def head(self) -> tuple[int, str]:
        block = self.client.w3.eth.get_block("latest")
        return int(block["number"]), "0x" + bytes(block["hash"]).hex()

    def block_hash(self, number: int) -> str:
        return "0x" + bytes(self.client.w3.eth.get_block(number)["hash"]).hex()

    def fund_dataset(self, salt: bytes, amount: int, *, buyer: LocalAccount | None = None) -> str:
        """The buyer mints dUSD at the faucet, approves the ledger and creates a funded dataset;
        returns its ledger id as 0x + 64 hex."""
        buyer = buyer or self.buyer
        self.send(self.dusd.functions.mint(buyer.address, amount), buyer)
        self.send(self.dusd.functions.approve(self.deployment.ledger, amount), buyer)
        self.send(self.ledger.functions.createAndFund(salt, self.dusd_index, amount), buyer)
        dataset_id: int = self.ledger.functions.datasetIdOf(buyer.address, salt).call()
        return "0x" + dataset_id.to_bytes(32, "big").hex()

    def dataset(self, dataset_id: str) -> Any:
        """The ledger's record of a dataset (buyer, token, feeBps, status, closeRequestedAt,
        available, debited)."""
        return self.ledger.functions.dataset(int(dataset_id, 16)).call()

    def warp_to(self, timestamp: int) -> None:
        """Mines a block at `timestamp` (unix seconds): the chain's clock moves forward."""
        self.rpc("evm_setNextBlockTimestamp", timestamp)
        self.rpc("evm_mine")

    def now(self) -> int:
        return int(self.client.w3.eth.get_block("latest")["timestamp"])
