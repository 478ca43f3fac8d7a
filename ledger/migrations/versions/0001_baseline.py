"""baseline: the schema of the last release before migrations (commit 24b6a85)

Written by autogenerate from that release's models on an empty database, then read: it creates
the very tables, columns, keys, indexes (partial ones with the same predicate on SQLite and
PostgreSQL) and constraint names that release's `create_all` made, on both dialects. A database
that release made is recorded as at this revision by `ledger.kit.migrate.upgrade`, not rebuilt.

UInt256 columns are CHAR(78) on SQLite and NUMERIC(78, 0) on PostgreSQL, UTCDateTime columns
DateTime(timezone=True), as the types in ledger.kit.db compile; enums are VARCHARs (no native
type, no CHECK), as the models declare them.

Revision ID: 0001
Revises:
Create Date: 2026-12-07 13:11:14.729660
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:  # noqa: PLR0915 (one statement per table and index)
    op.create_table(
        "accounts",
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_accounts")),
    )
    op.create_table(
        "auth_nonces",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_auth_nonces")),
    )
    with op.batch_alter_table("auth_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_nonces_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "chain_blocks",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.Column("parent_hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "number", name=op.f("pk_chain_blocks")),
    )
    op.create_table(
        "chain_datasets",
        sa.Column("dataset_id", sa.String(length=66), nullable=False),
        sa.Column("buyer", sa.String(length=42), nullable=False),
        sa.Column("salt", sa.String(length=66), nullable=False),
        sa.Column("token_index", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("fee_bps", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("close_due_at", sa.BigInteger(), nullable=True),
        sa.Column(
            "funded", sa.CHAR(78).with_variant(sa.NUMERIC(78, 0), "postgresql"), nullable=False
        ),
        sa.Column(
            "available", sa.CHAR(78).with_variant(sa.NUMERIC(78, 0), "postgresql"), nullable=False
        ),
        sa.Column(
            "debited", sa.CHAR(78).with_variant(sa.NUMERIC(78, 0), "postgresql"), nullable=False
        ),
        sa.Column(
            "fees", sa.CHAR(78).with_variant(sa.NUMERIC(78, 0), "postgresql"), nullable=False
        ),
        sa.Column(
            "refunded", sa.CHAR(78).with_variant(sa.NUMERIC(78, 0), "postgresql"), nullable=False
        ),
        sa.PrimaryKeyConstraint("dataset_id", name=op.f("pk_chain_datasets")),
    )
    op.create_table(
        "chain_epochs",
        sa.Column("epoch", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payout_root", sa.String(length=66), nullable=False),
        sa.Column("label_root", sa.String(length=66), nullable=False),
        sa.Column("content_hash", sa.String(length=66), nullable=False),
        sa.Column("debits", sa.JSON(), nullable=False),
        sa.Column("acceptable_at", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("accepted_block", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("epoch", name=op.f("pk_chain_epochs")),
    )
    op.create_table(
        "chain_logs",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "block_hash", "log_index", name=op.f("pk_chain_logs")),
    )
    with op.batch_alter_table("chain_logs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chain_logs_block_number"), ["block_number"], unique=False
        )

    op.create_table(
        "claimed_totals",
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("token_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "payment", sa.CHAR(78).with_variant(sa.NUMERIC(78, 0), "postgresql"), nullable=False
        ),
        sa.Column(
            "reward", sa.CHAR(78).with_variant(sa.NUMERIC(78, 0), "postgresql"), nullable=False
        ),
        sa.PrimaryKeyConstraint("account", "token_index", name=op.f("pk_claimed_totals")),
    )
    op.create_table(
        "epochs",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "built",
                "sending",
                "proposed",
                "accepting",
                "accepted",
                name="epochstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("payout_root", sa.String(length=66), nullable=False),
        sa.Column("label_root", sa.String(length=66), nullable=False),
        sa.Column("content_hash", sa.String(length=66), nullable=False),
        sa.Column("label_count", sa.Integer(), nullable=False),
        sa.Column("payout_tree", sa.Text(), nullable=False),
        sa.Column("label_tree", sa.Text(), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("verdicts", sa.Text(), nullable=False),
        sa.Column("raw_tx", sa.Text(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted_block", sa.Integer(), nullable=True),
        sa.Column("acceptable_at", sa.BigInteger(), nullable=True),
        sa.Column("accept_raw_tx", sa.Text(), nullable=True),
        sa.Column("accept_tx_hash", sa.String(length=66), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_epochs")),
    )
    op.create_table(
        "ledger_tokens",
        sa.Column("token_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column(
            "fees", sa.CHAR(78).with_variant(sa.NUMERIC(78, 0), "postgresql"), nullable=False
        ),
        sa.PrimaryKeyConstraint("token_index", name=op.f("pk_ledger_tokens")),
    )
    op.create_table(
        "mirror_cursor",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_mirror_cursor")),
    )
    op.create_table(
        "mirror_reconciliations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("drift_count", sa.Integer(), nullable=False),
        sa.Column("drift", sa.JSON(), nullable=False),
        sa.Column("repaired_from", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mirror_reconciliations")),
    )
    with op.batch_alter_table("mirror_reconciliations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mirror_reconciliations_chain_id"), ["chain_id"], unique=False
        )

    op.create_table(
        "mirror_tip",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("head_block", sa.BigInteger(), nullable=False),
        sa.Column("undo_floor", sa.BigInteger(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_mirror_tip")),
    )
    op.create_table(
        "mirror_undo",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("table_name", sa.String(length=40), nullable=False),
        sa.Column("key", sa.JSON(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mirror_undo")),
    )
    with op.batch_alter_table("mirror_undo", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mirror_undo_block_number"), ["block_number"], unique=False
        )

    op.create_table(
        "pending_transfers",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("sender", sa.String(length=42), nullable=False),
        sa.Column("recipient", sa.String(length=42), nullable=False),
        sa.Column(
            "value", sa.CHAR(78).with_variant(sa.NUMERIC(78, 0), "postgresql"), nullable=False
        ),
        sa.PrimaryKeyConstraint(
            "chain_id", "block_hash", "log_index", name=op.f("pk_pending_transfers")
        ),
    )
    with op.batch_alter_table("pending_transfers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pending_transfers_token"), ["token"], unique=False)

    op.create_table(
        "token_balances",
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column(
            "balance", sa.CHAR(78).with_variant(sa.NUMERIC(78, 0), "postgresql"), nullable=False
        ),
        sa.PrimaryKeyConstraint("token", "account", name=op.f("pk_token_balances")),
    )
    op.create_table(
        "token_supplies",
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column(
            "total_supply",
            sa.CHAR(78).with_variant(sa.NUMERIC(78, 0), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_token_supplies")),
    )
    op.create_table(
        "account_roles",
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "buyer",
                "annotator",
                "reviewer",
                "auditor",
                "operator",
                name="role",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["address"], ["accounts.address"], name=op.f("fk_account_roles_address_accounts")
        ),
        sa.PrimaryKeyConstraint("address", "role", name=op.f("pk_account_roles")),
    )
    op.create_table(
        "auth_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["address"], ["accounts.address"], name=op.f("fk_auth_sessions_address_accounts")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_auth_sessions")),
    )
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_sessions_address"), ["address"], unique=False)

    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("buyer", sa.String(length=42), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("label_schema", sa.JSON(), nullable=False),
        sa.Column("payment_token", sa.String(length=42), nullable=False),
        sa.Column(
            "price_per_label",
            sa.CHAR(78).with_variant(sa.NUMERIC(78, 0), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "reward_per_label",
            sa.CHAR(78).with_variant(sa.NUMERIC(78, 0), "postgresql"),
            nullable=False,
        ),
        sa.Column("verification", sa.JSON(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("terms_nonce", sa.String(length=66), nullable=False),
        sa.Column("gold_document", sa.Text(), nullable=True),
        sa.Column("gold_nonce", sa.String(length=66), nullable=False),
        sa.Column("item_key", sa.String(length=66), nullable=False),
        sa.Column("salt", sa.String(length=66), nullable=False),
        sa.Column("chain_dataset_id", sa.String(length=66), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("lease_seconds", sa.Integer(), nullable=False),
        sa.Column("skip_limit", sa.Integer(), nullable=False),
        sa.Column("instructions_version", sa.Integer(), nullable=False),
        sa.Column("items_visible_upto", sa.Integer(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("gold_count", sa.Integer(), nullable=False),
        sa.Column("upload_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("data_key", sa.LargeBinary(length=69), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["buyer"], ["accounts.address"], name=op.f("fk_datasets_buyer_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("chain_dataset_id", name=op.f("uq_datasets_chain_dataset_id")),
    )
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_datasets_buyer"), ["buyer"], unique=False)

    op.create_table(
        "entitlements",
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("token_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "cumulative_payment",
            sa.CHAR(78).with_variant(sa.NUMERIC(78, 0), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "cumulative_reward",
            sa.CHAR(78).with_variant(sa.NUMERIC(78, 0), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["epoch"], ["epochs.number"], name=op.f("fk_entitlements_epoch_epochs")
        ),
        sa.PrimaryKeyConstraint("epoch", "account", "token_index", name=op.f("pk_entitlements")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("correlation_id", sa.String(length=200), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("ledger_account", sa.String(length=120), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column(
            "side",
            sa.Enum("debit", "credit", name="entryside", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column(
            "amount", sa.CHAR(78).with_variant(sa.NUMERIC(78, 0), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["epoch"], ["epochs.number"], name=op.f("fk_ledger_entries_epoch_epochs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_correlation_id"), ["correlation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ledger_entries_epoch"), ["epoch"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_ledger_account"), ["ledger_account"], unique=False
        )

    op.create_table(
        "dataset_annotators",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("annotator", sa.String(length=42), nullable=False),
        sa.Column("gold_answered", sa.Integer(), nullable=False),
        sa.Column("gold_correct", sa.Integer(), nullable=False),
        sa.Column("compared", sa.Integer(), nullable=False),
        sa.Column("agreed", sa.Integer(), nullable=False),
        sa.Column("decided", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("warmup_answered", sa.Integer(), nullable=False),
        sa.Column("warmup_correct", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_dataset_annotators_dataset_id_datasets")
        ),
        sa.PrimaryKeyConstraint("dataset_id", "annotator", name=op.f("pk_dataset_annotators")),
    )
    op.create_table(
        "dataset_instructions",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("markdown", sa.Text(), nullable=False),
        sa.Column("examples", sa.JSON(), nullable=False),
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_dataset_instructions_dataset_id_datasets"),
        ),
        sa.PrimaryKeyConstraint("dataset_id", "version", name=op.f("pk_dataset_instructions")),
    )
    op.create_table(
        "dataset_members",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_dataset_members_dataset_id_datasets")
        ),
        sa.PrimaryKeyConstraint("dataset_id", "address", name=op.f("pk_dataset_members")),
    )
    op.create_table(
        "dataset_reviewers",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("appointed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["address"], ["accounts.address"], name=op.f("fk_dataset_reviewers_address_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_dataset_reviewers_dataset_id_datasets")
        ),
        sa.PrimaryKeyConstraint("dataset_id", "address", name=op.f("pk_dataset_reviewers")),
    )
    op.create_table(
        "epoch_debits",
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("chain_dataset_id", sa.String(length=66), nullable=False),
        sa.Column(
            "amount", sa.CHAR(78).with_variant(sa.NUMERIC(78, 0), "postgresql"), nullable=False
        ),
        sa.Column("fee", sa.CHAR(78).with_variant(sa.NUMERIC(78, 0), "postgresql"), nullable=False),
        sa.Column("label_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_epoch_debits_dataset_id_datasets")
        ),
        sa.ForeignKeyConstraint(
            ["epoch"], ["epochs.number"], name=op.f("fk_epoch_debits_epoch_epochs")
        ),
        sa.PrimaryKeyConstraint("epoch", "dataset_id", name=op.f("pk_epoch_debits")),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("sealed_data", sa.LargeBinary(), nullable=False),
        sa.Column("item_hash", sa.String(length=66), nullable=False),
        sa.Column("gold_label", sa.UnicodeText(), nullable=True),
        sa.Column("gold", sa.Boolean(), nullable=False),
        sa.Column("places", sa.Integer(), nullable=False),
        sa.Column("places_taken", sa.Integer(), nullable=False),
        sa.Column("leased_to", sa.String(length=42), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("skips", sa.Integer(), nullable=False),
        sa.Column("set_aside_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_items_dataset_id_datasets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        sa.UniqueConstraint(
            "dataset_id", "external_id", name=op.f("uq_items_dataset_id_external_id")
        ),
    )
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_items_gold_pool",
            ["dataset_id", "id"],
            unique=False,
            sqlite_where=sa.text("gold_label IS NOT NULL"),
            postgresql_where=sa.text("gold_label IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_items_lease_expiry",
            ["dataset_id", "lease_expires_at"],
            unique=False,
            sqlite_where=sa.text("leased_to IS NOT NULL"),
            postgresql_where=sa.text("leased_to IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_items_queue",
            ["dataset_id", "gold", "id"],
            unique=False,
            sqlite_where=sa.text("places_taken < places AND set_aside_at IS NULL"),
            postgresql_where=sa.text("places_taken < places AND set_aside_at IS NULL"),
        )
        batch_op.create_index(
            "uq_items_lease_holder",
            ["dataset_id", "leased_to"],
            unique=True,
            sqlite_where=sa.text("leased_to IS NOT NULL"),
            postgresql_where=sa.text("leased_to IS NOT NULL"),
        )

    op.create_table(
        "media_objects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("blob_key", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_media_objects_dataset_id_datasets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_objects")),
        sa.UniqueConstraint("dataset_id", "name", name=op.f("uq_media_objects_dataset_id_name")),
    )
    op.create_table(
        "assignments",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("annotator", sa.String(length=42), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("served_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "leased",
                "labelled",
                "skipped",
                "released",
                name="assignmentoutcome",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "reason",
            sa.Enum(
                "unclear",
                "broken_media",
                "offensive",
                "other",
                name="skipreason",
                native_enum=False,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column("comment", sa.String(length=500), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_assignments_dataset_id_datasets")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_assignments_item_id_items")
        ),
        sa.PrimaryKeyConstraint("item_id", "annotator", name=op.f("pk_assignments")),
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_assignments_dataset_outcome", ["dataset_id", "outcome"], unique=False
        )

    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("annotator", sa.String(length=42), nullable=False),
        sa.Column("value", sa.UnicodeText(), nullable=False),
        sa.Column("salt", sa.String(length=66), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "verified", "rejected", name="labelstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column(
            "method",
            sa.Enum(
                "review",
                "gold",
                "consensus",
                "auto",
                "appeal",
                name="verificationmethod",
                native_enum=False,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column("reviewer", sa.String(length=42), nullable=True),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("corrected_value", sa.UnicodeText(), nullable=True),
        sa.Column("warmup", sa.Boolean(), nullable=False),
        sa.Column("agreement", sa.String(length=20), nullable=True),
        sa.Column("holds_place", sa.Boolean(), nullable=False),
        sa.Column("sealed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("instructions_version", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "price", sa.CHAR(78).with_variant(sa.NUMERIC(78, 0), "postgresql"), nullable=True
        ),
        sa.Column(
            "reward", sa.CHAR(78).with_variant(sa.NUMERIC(78, 0), "postgresql"), nullable=True
        ),
        sa.Column("epoch", sa.Integer(), nullable=True),
        sa.Column("published_in", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["annotator"], ["accounts.address"], name=op.f("fk_labels_annotator_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_labels_dataset_id_datasets")
        ),
        sa.ForeignKeyConstraint(["epoch"], ["epochs.number"], name=op.f("fk_labels_epoch_epochs")),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_labels_item_id_items")),
        sa.ForeignKeyConstraint(
            ["published_in"], ["epochs.number"], name=op.f("fk_labels_published_in_epochs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labels")),
        sa.UniqueConstraint("item_id", "annotator", name=op.f("uq_labels_item_id_annotator")),
    )
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_labels_annotator"), ["annotator"], unique=False)
        batch_op.create_index(batch_op.f("ix_labels_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_labels_epoch"), ["epoch"], unique=False)
        batch_op.create_index(batch_op.f("ix_labels_published_in"), ["published_in"], unique=False)
        batch_op.create_index(
            "ix_labels_sealed",
            ["sealed_until"],
            unique=False,
            sqlite_where=sa.text("sealed_until IS NOT NULL"),
            postgresql_where=sa.text("sealed_until IS NOT NULL"),
        )
        batch_op.create_index(batch_op.f("ix_labels_status"), ["status"], unique=False)

    op.create_table(
        "media_access",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("object_name", sa.String(length=300), nullable=False),
        sa.Column("wallet", sa.String(length=42), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_media_access_dataset_id_datasets")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_media_access_item_id_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_access")),
    )
    with op.batch_alter_table("media_access", schema=None) as batch_op:
        batch_op.create_index("ix_media_access_dataset", ["dataset_id", "id"], unique=False)

    op.create_table(
        "disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label_id", sa.Integer(), nullable=False),
        sa.Column("annotator", sa.String(length=42), nullable=False),
        sa.Column("comment", sa.String(length=2000), nullable=False),
        sa.Column("rejected_by", sa.String(length=42), nullable=True),
        sa.Column("rejection_reason", sa.String(length=1000), nullable=True),
        sa.Column(
            "status",
            sa.Enum("open", "upheld", "denied", name="disputestatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("decided_by", sa.String(length=42), nullable=True),
        sa.Column("decision_reason", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["label_id"], ["labels.id"], name=op.f("fk_disputes_label_id_labels")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
        sa.UniqueConstraint("label_id", name=op.f("uq_disputes_label_id")),
    )
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disputes_annotator"), ["annotator"], unique=False)
        batch_op.create_index(batch_op.f("ix_disputes_status"), ["status"], unique=False)

    op.create_table(
        "label_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=42), nullable=True),
        sa.Column("detail", sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["label_id"], ["labels.id"], name=op.f("fk_label_events_label_id_labels")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_events")),
    )
    with op.batch_alter_table("label_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_label_events_label_id"), ["label_id"], unique=False)


def downgrade() -> None:  # noqa: PLR0915
    """Drops every table, and every row with it: only for an empty database, or tests."""
    with op.batch_alter_table("label_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_label_events_label_id"))

    op.drop_table("label_events")
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disputes_status"))
        batch_op.drop_index(batch_op.f("ix_disputes_annotator"))

    op.drop_table("disputes")
    with op.batch_alter_table("media_access", schema=None) as batch_op:
        batch_op.drop_index("ix_media_access_dataset")

    op.drop_table("media_access")
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_labels_status"))
        batch_op.drop_index(
            "ix_labels_sealed",
            sqlite_where=sa.text("sealed_until IS NOT NULL"),
            postgresql_where=sa.text("sealed_until IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_labels_published_in"))
        batch_op.drop_index(batch_op.f("ix_labels_epoch"))
        batch_op.drop_index(batch_op.f("ix_labels_dataset_id"))
        batch_op.drop_index(batch_op.f("ix_labels_annotator"))

    op.drop_table("labels")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_dataset_outcome")

    op.drop_table("assignments")
    op.drop_table("media_objects")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_items_lease_holder",
            sqlite_where=sa.text("leased_to IS NOT NULL"),
            postgresql_where=sa.text("leased_to IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_items_queue",
            sqlite_where=sa.text("places_taken < places AND set_aside_at IS NULL"),
            postgresql_where=sa.text("places_taken < places AND set_aside_at IS NULL"),
        )
        batch_op.drop_index(
            "ix_items_lease_expiry",
            sqlite_where=sa.text("leased_to IS NOT NULL"),
            postgresql_where=sa.text("leased_to IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_items_gold_pool",
            sqlite_where=sa.text("gold_label IS NOT NULL"),
            postgresql_where=sa.text("gold_label IS NOT NULL"),
        )

    op.drop_table("items")
    op.drop_table("epoch_debits")
    op.drop_table("dataset_reviewers")
    op.drop_table("dataset_members")
    op.drop_table("dataset_instructions")
    op.drop_table("dataset_annotators")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entries_ledger_account"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_epoch"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_correlation_id"))

    op.drop_table("ledger_entries")
    op.drop_table("entitlements")
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_datasets_buyer"))

    op.drop_table("datasets")
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_sessions_address"))

    op.drop_table("auth_sessions")
    op.drop_table("account_roles")
    op.drop_table("token_supplies")
    op.drop_table("token_balances")
    with op.batch_alter_table("pending_transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_transfers_token"))

    op.drop_table("pending_transfers")
    with op.batch_alter_table("mirror_undo", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mirror_undo_block_number"))

    op.drop_table("mirror_undo")
    op.drop_table("mirror_tip")
    with op.batch_alter_table("mirror_reconciliations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mirror_reconciliations_chain_id"))

    op.drop_table("mirror_reconciliations")
    op.drop_table("mirror_cursor")
    op.drop_table("ledger_tokens")
    op.drop_table("epochs")
    op.drop_table("claimed_totals")
    with op.batch_alter_table("chain_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_logs_block_number"))

    op.drop_table("chain_logs")
    op.drop_table("chain_epochs")
    op.drop_table("chain_datasets")
    op.drop_table("chain_blocks")
    with op.batch_alter_table("auth_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_nonces_expires_at"))

    op.drop_table("auth_nonces")
    op.drop_table("accounts")
