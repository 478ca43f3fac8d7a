"""Helpers shared by tests: a handle on the deployed contracts of the test chain."""

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
        return self.contract("DevStablecoin", self.deployment.payment_tokens[0])

    @property
    def label(self) -> Contract:
        return self.contract("LabelToken", self.deployment.label_token)

    @property
    def escrow(self) -> Contract:
        return self.contract("DatasetEscrow", self.deployment.escrow)

    @property
    def distributor(self) -> Contract:
        return self.contract("EpochDistributor", self.deployment.distributor)

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

    def fund_dataset(self, salt: bytes, amount: int) -> str:
        """The buyer mints dUSD at the faucet, approves the escrow and opens a funded dataset."""
        buyer = self.buyer.address
        self.send(self.dusd.functions.mint(buyer, amount), self.buyer)
        self.send(self.dusd.functions.approve(self.deployment.escrow, amount), self.buyer)
        self.send(self.escrow.functions.createAndFund(salt, self.dusd.address, amount), self.buyer)
        dataset_id: bytes = self.escrow.functions.datasetIdOf(buyer, salt).call()
        return "0x" + dataset_id.hex()
