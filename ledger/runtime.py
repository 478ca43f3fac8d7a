"""Everything a running instance needs, built once from the settings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from eth_account.signers.local import LocalAccount

from ledger.chain.client import ChainClient, Deployment
from ledger.chain.keys import operator_account
from ledger.kit.config import Settings
from ledger.kit.db import Database, utcnow
from ledger.kit.migrate import require_head
from ledger.storage.service import MediaVault
from ledger.storage.setup import vault_from


@dataclass
class Runtime:
    settings: Settings
    db: Database
    chain: ChainClient
    deployment: Deployment
    operator: LocalAccount | None
    # Item data and uploaded media, sealed per dataset, and the signed URLs that show them.
    vault: MediaVault
    # What the API takes as the current time (leases, review windows, sealed gold verdicts);
    # tests set their own.
    clock: Callable[[], dt.datetime] = field(default=utcnow)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        deployment = Deployment.load(settings.deployment_file)
        # the deployment's network sets confirmations and reorg depth unless settings do
        settings = settings.with_chain_defaults(
            network=deployment.network,
            confirmations=deployment.confirmations,
            max_reorg_depth=deployment.max_reorg_depth,
        )
        operator = operator_account(settings)  # a wrong keystore password stops here
        db = Database(settings.database_url)
        require_head(db.engine)  # the schema is `label-ledger db upgrade`'s to change
        return cls(
            settings=settings,
            db=db,
            chain=ChainClient(
                settings.rpc_url,
                max_fee_per_gas_gwei=settings.max_fee_per_gas_gwei,
                stuck_after=settings.tx_stuck_after_seconds,
            ),
            deployment=deployment,
            operator=operator,
            vault=vault_from(settings),
        )

    def operators(self) -> set[str]:
        """Addresses allowed on operator endpoints: the on-chain operator and configured extras."""
        return set(self._operators)

    @cached_property
    def _operators(self) -> frozenset[str]:
        # read on every request; the settings and the deployment do not change while it runs
        return frozenset(self.settings.operator_set() | {self.deployment.operator.lower()})
