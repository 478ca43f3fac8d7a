"""label_payments: which epoch paid a label, kept apart from the label's row

Settling a million labels used to set `labels.epoch` on a million wide rows: a new version of
each, an entry in each of the table's indexes and a foreign-key check per row, 73 of the 247
seconds of an epoch of a million labels (BENCHMARKS.md, "Settling an epoch end to end"). A paid
label is now a row of two integers in `label_payments`, whose primary key keeps a label paid at
most once; the labels table no longer changes when an epoch is built.

The upgrade copies every label's epoch into the new table before it drops the column, so no
payment is lost; the downgrade puts them back. SQLite rebuilds the labels table to drop the
column (a batch migration; its foreign keys are checked before the revision commits).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 17:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_payments",
        sa.Column("label_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("label_id", name=op.f("pk_label_payments")),
    )
    op.execute(
        "INSERT INTO label_payments (label_id, epoch) "
        "SELECT id, epoch FROM labels WHERE epoch IS NOT NULL"
    )
    with op.batch_alter_table("label_payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_label_payments_epoch"), ["epoch"], unique=False)
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_labels_epoch"))
        batch_op.drop_constraint(batch_op.f("fk_labels_epoch_epochs"), type_="foreignkey")
        batch_op.drop_column("epoch")


def downgrade() -> None:
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("epoch", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_labels_epoch_epochs"), "epochs", ["epoch"], ["number"]
        )
        batch_op.create_index(batch_op.f("ix_labels_epoch"), ["epoch"], unique=False)
    op.execute(
        "UPDATE labels SET epoch = (SELECT epoch FROM label_payments "
        "WHERE label_payments.label_id = labels.id)"
    )
    with op.batch_alter_table("label_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_label_payments_epoch"))
    op.drop_table("label_payments")
