"""Deploys the three contracts (and, on a dev chain, the dev payment token) in one go.

The contracts are wired by immutables: the token and the escrow are told the distributor's
address before it exists, predicted from the deployer's nonce, so there is no setter to forget
or to front-run.
"""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from ledger.chain.client import ChainClient, ChainStateMismatch, Deployment, create_address


def deploy_all(
    client: ChainClient,
    deployer: LocalAccount,
    *,
    operator: str | None = None,
    payment_tokens: tuple[str, ...] = (),
    with_dev_token: bool = False,
) -> Deployment:
    operator = operator or deployer.address
    nonce = int(client.w3.eth.get_transaction_count(deployer.address, "pending"))
    start_block = client.w3.eth.block_number
    tokens = list(payment_tokens)
    if with_dev_token:
        tokens.insert(0, client.deploy("DevStablecoin", deployer, nonce=nonce))
        nonce += 1
    distributor_at = create_address(deployer.address, nonce + 2)
    label_token = client.deploy("LabelToken", deployer, distributor_at, nonce=nonce)
    escrow = client.deploy("DatasetEscrow", deployer, distributor_at, nonce=nonce + 1)
    distributor = client.deploy(
        "EpochDistributor", deployer, escrow, label_token, operator, nonce=nonce + 2
    )
    if distributor != distributor_at:
        raise ChainStateMismatch(
            f"distributor landed at {distributor}, expected {distributor_at}: another transaction "
            "from the deployer key interleaved; deploy again from an idle key"
        )
    return Deployment(
        chain_id=client.chain_id,
        deployer=deployer.address,
        operator=operator,
        deployment_block=start_block + 1,
        label_token=label_token,
        escrow=escrow,
        distributor=distributor,
        payment_tokens=tokens,
    )
