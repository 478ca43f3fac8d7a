"""The one settings object. Every knob is an environment variable prefixed LABEL_LEDGER_."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.kit.errors import BadRequest

STATE_DIR = Path(".label-ledger")


class NetworkMismatch(BadRequest):
    code = "network_mismatch"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LABEL_LEDGER_", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{STATE_DIR / 'ledger.sqlite'}",
        description="SQLAlchemy URL; SQLite by default, postgresql+psycopg://... in production.",
    )
    rpc_url: str = "http://127.0.0.1:8545"
    # The JSON-RPC URL wallets should use, shown by /v1/health. Not rpc_url: that one may carry
    # a provider's API key.
    public_rpc_url: str | None = None
    deployment_file: Path = STATE_DIR / "deployment.json"
    # The network by name (ledger/chain/networks.py: base, base-sepolia, arbitrum-one,
    # arbitrum-sepolia, optimism, op-sepolia, dev). `deploy --network` writes it into the
    # deployment file with the network's confirmations and reorg depth, which the mirror uses
    # unless confirmations / mirror_max_reorg_depth are set here.
    network: str | None = None
    # The key that posts epoch roots: from an encrypted keystore file (eth-account's format,
    # `label-ledger keystore new|import`) and its password file (without one, a terminal is
    # asked), or the hex key itself. A secret: never logged, never shown; on a dev chain `up`
    # fills operator_key in.
    operator_key: SecretStr | None = None
    operator_keystore: Path | None = None
    operator_keystore_password_file: Path | None = None
    # No transaction the service signs offers more than this per gas (EIP-1559 maxFeePerGas);
    # when the base fee alone is higher, sending waits (error gas_price_above_cap) instead.
    max_fee_per_gas_gwei: float = Field(default=100.0, gt=0)
    # A transaction unmined this long is replaced with 12.5%+ higher fees (same nonce).
    tx_stuck_after_seconds: float = Field(default=120.0, gt=0)
    # Extra addresses (comma separated) that may use operator endpoints besides operator_key's.
    operator_addresses: str = ""

    # Sign-In with Ethereum: the domain and URI a message must name, and how long things live.
    siwe_domain: str = "localhost:8000"
    siwe_uri: str = "http://localhost:8000"
    nonce_ttl_seconds: int = 300
    session_ttl_seconds: int = 12 * 3600

    # Deployment (`up`, `deploy`): the ledger's immutable timelock between proposing an epoch
    # and claims against it (0 suits a dev chain only), the fee in basis points taken on top of
    # each debit (at most 1000), and the guardian who may revoke a pending epoch (default: the
    # deployer).
    timelock_seconds: int = Field(default=0, ge=0)
    fee_bps: int = Field(default=0, ge=0, le=1000)
    guardian: str | None = None
    pauser: str | None = None

    # The mirror: blocks this deep below the head count as confirmed (the API shows the rest
    # as pending); reorgs up to max_reorg_depth blocks are undone and replayed, deeper ones stop
    # the mirror with an alarm; every reconcile_seconds (0: never) it checks itself against the
    # chain's balanceOf/totalSupply and repairs drift.
    confirmations: int = Field(default=0, ge=0)
    mirror_poll_seconds: float = 1.0
    mirror_max_block_range: int = Field(default=2000, ge=1)
    mirror_max_reorg_depth: int = Field(default=64, ge=1)
    mirror_reconcile_seconds: float = Field(default=300.0, ge=0)
    mirror_rpc_timeout: float = Field(default=10.0, gt=0)
    settle_every_seconds: float = 0.0  # 0 disables the periodic settlement job
    # How often sealed gold verdicts past their delay are revealed (settlement reveals them too)
    # and expired leases cleared (an expired lease never holds its item back from the queue).
    upkeep_seconds: float = Field(default=10.0, gt=0)
    # Where each settlement writes the publication auditors check (ledger/publication.py); the
    # API serves the same files under /v1/published/.
    publish_dir: Path = STATE_DIR / "published"

    # Media and confidentiality (ledger/storage, ledger/media_access). The master key wraps every
    # dataset's data key (item data and uploaded media are sealed with it): 64 hex digits in a
    # file only the service reads, made (mode 0600) on first start when missing, never logged.
    # Losing it loses every dataset's data. Default: master.key in the state directory (the
    # deployment file's folder, which `up` keeps in its --state-dir).
    master_key_file: Path | None = None
    # Where uploaded media is kept: "local" (a directory) or "s3" (any S3-compatible store).
    media_store: Literal["local", "s3"] = "local"
    # The local store's directory. Default: media/ in the state directory.
    media_dir: Path | None = None
    # The S3-compatible store: endpoint (http(s)://host:port), bucket (must exist), region, and
    # credentials, from the environment like every setting.
    s3_endpoint_url: str | None = None
    s3_bucket: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    # How long a signed media URL lives (never past the lease it was issued for).
    media_url_ttl_seconds: int = Field(default=600, gt=0, le=24 * 3600)

    def with_chain_defaults(
        self, *, network: str | None, confirmations: int | None, max_reorg_depth: int | None
    ) -> Settings:
        """These settings with the deployment's network values filled in where they were not
        given (the environment or the caller wins)."""
        given = self.model_fields_set
        if network and self.network and "network" in given and network != self.network:
            raise NetworkMismatch(
                f"LABEL_LEDGER_NETWORK is {self.network} but the deployment file "
                f"{self.deployment_file} is for {network}: point LABEL_LEDGER_DEPLOYMENT_FILE at "
                f"the {self.network} deployment, or unset LABEL_LEDGER_NETWORK"
            )
        update: dict[str, object] = {}
        if network is not None and "network" not in given:
            update["network"] = network
        if confirmations is not None and "confirmations" not in given:
            update["confirmations"] = confirmations
        if max_reorg_depth is not None and "mirror_max_reorg_depth" not in given:
            update["mirror_max_reorg_depth"] = max_reorg_depth
        return self.model_copy(update=update) if update else self

    def state_dir(self) -> Path:
        """The folder the service keeps its own files in: the deployment file's."""
        return self.deployment_file.parent

    def master_key_path(self) -> Path:
        return self.master_key_file or self.state_dir() / "master.key"

    def media_path(self) -> Path:
        return self.media_dir or self.state_dir() / "media"

    def operator_set(self) -> set[str]:
        return {a.strip().lower() for a in self.operator_addresses.split(",") if a.strip()}


@lru_cache
def get_settings() -> Settings:
    return Settings()
