"""Deploys the LabelLedger (and, on a dev chain, the dev payment token) and sets it up.

One contract plus roles: the deployer is the admin; the operator gets ROOT_PROPOSER_ROLE, the
guardian GUARDIAN_ROLE and the pauser PAUSER_ROLE (each the deployer unless told otherwise);
the payment tokens are allowlisted in the order given (indices from 1) and the fee is set.

On a named network (`ledger.chain.networks`), `check_network` refuses a chain whose id is not
the network's and `check_payment_tokens` a token address without code, before anything is
sent; the deployment file then records the network, its confirmations and its reorg depth.
"""

from __future__ import annotations

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from ledger.chain.client import ChainClient, Deployment, PaymentToken
from ledger.chain.networks import Network, network_of_chain
from ledger.kit.errors import BadRequest

ROOT_PROPOSER_ROLE = keccak(text="ROOT_PROPOSER_ROLE")
GUARDIAN_ROLE = keccak(text="GUARDIAN_ROLE")
PAUSER_ROLE = keccak(text="PAUSER_ROLE")


class WrongChain(BadRequest):
    code = "wrong_chain"


class NotAToken(BadRequest):
    code = "payment_token_without_code"


def shown_url(url: str) -> str:
    """An RPC URL as it may be shown: scheme and host only (a provider's API key often sits in
    the path or the query)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0]}" if rest else url


def check_network(client: ChainClient, network: Network) -> None:
    """Refuses an RPC whose chain is not `network`'s."""
    actual = client.chain_id
    if actual != network.chain_id:
        known = network_of_chain(actual)
        which = f" ({known.title})" if known else ""
        raise WrongChain(
            f"{shown_url(client.rpc_url)} serves chain {actual}{which}, not {network.title} "
            f"(chain {network.chain_id}): pass an RPC URL of {network.title}, or "
            f"--network {known.name if known else 'NAME'} for the chain it serves; nothing was sent"
        )


def check_payment_tokens(client: ChainClient, tokens: tuple[str, ...]) -> None:
    """Refuses a payment token address with no contract code on this chain."""
    for token in tokens:
        code = client.w3.eth.get_code(to_checksum_address(token))
        if len(code) == 0:
            raise NotAToken(
                f"payment token {token} has no contract code on chain {client.chain_id}: "
                "check the address (and the network); nothing was sent"
            )


def deploy_all(
    client: ChainClient,
    deployer: LocalAccount,
    *,
    operator: str | None = None,
    guardian: str | None = None,
    pauser: str | None = None,
    payment_tokens: tuple[str, ...] = (),
    with_dev_token: bool = False,
    timelock: int = 0,
    fee_bps: int = 0,
    network: Network | None = None,
) -> Deployment:
    if network is not None:
        check_network(client, network)
    check_payment_tokens(client, payment_tokens)
    operator = operator or deployer.address
    guardian = guardian or deployer.address
    pauser = pauser or deployer.address
    nonce = int(client.w3.eth.get_transaction_count(deployer.address, "pending"))
    start_block = client.w3.eth.block_number
    tokens = list(payment_tokens)
    if with_dev_token:
        tokens.insert(0, client.deploy("DevStablecoin", deployer, nonce=nonce))
    ledger_address = client.deploy(
        "LabelLedger",
        deployer,
        deployer.address,
        timelock,
        nonce=int(client.w3.eth.get_transaction_count(deployer.address, "pending")),
    )
    ledger = client.contract("LabelLedger", ledger_address)
    for role, holder in (
        (ROOT_PROPOSER_ROLE, operator),
        (GUARDIAN_ROLE, guardian),
        (PAUSER_ROLE, pauser),
    ):
        client.transact(ledger.functions.grantRole(role, holder), deployer)
    listed = []
    for position, token in enumerate(tokens):
        client.transact(ledger.functions.listToken(token), deployer)
        listed.append(
            PaymentToken(
                address=token,
                index=int(ledger.functions.tokenIndexOf(token).call()),
                # the dev token is born in the deployment block: the mirror sees its whole life
                seed_balances=not (with_dev_token and position == 0),
            )
        )
    if fee_bps:
        client.transact(ledger.functions.setFeeBps(fee_bps), deployer)
    return Deployment(
        chain_id=client.chain_id,
        deployer=deployer.address,
        operator=operator,
        guardian=guardian,
        deployment_block=start_block + 1,
        ledger=ledger_address,
        timelock=int(ledger.functions.TIMELOCK().call()),
        fee_bps=fee_bps,
        payment_tokens=listed,
        network=network.name if network else None,
        confirmations=network.confirmations if network else None,
        max_reorg_depth=network.max_reorg_depth if network else None,
    )
