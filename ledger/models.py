"""Every table, imported in one place so the metadata is complete."""

from ledger.annotation.models import (
    Assignment,
    DatasetAnnotator,
    Dispute,
    DisputeStatus,
    Label,
    LabelEvent,
    LabelStatus,
    VerificationMethod,
)
from ledger.auth.models import Account, AccountRole, AuthNonce, AuthSession, Role
from ledger.dataset.models import (
    Dataset,
    DatasetInstructions,
    DatasetMember,
    DatasetReviewer,
    Item,
)
from ledger.media_access.models import MediaAccess, MediaObject
from ledger.mirror.models import (
    ChainBlock,
    ChainDataset,
    ChainEpoch,
    ChainLog,
    ClaimedTotal,
    LedgerToken,
    MirrorCursor,
    TokenBalance,
    TokenSupply,
)
from ledger.settlement.models import Entitlement, Epoch, EpochDebit, EpochStatus, LedgerEntry

__all__ = [
    "Account",
    "AccountRole",
    "Assignment",
    "AuthNonce",
    "AuthSession",
    "ChainBlock",
    "ChainDataset",
    "ChainEpoch",
    "ChainLog",
    "ClaimedTotal",
    "Dataset",
    "DatasetAnnotator",
    "DatasetInstructions",
    "DatasetMember",
    "DatasetReviewer",
    "Dispute",
    "DisputeStatus",
    "Entitlement",
    "Epoch",
    "EpochDebit",
    "EpochStatus",
    "Item",
    "Label",
    "LabelEvent",
    "LabelStatus",
    "LedgerEntry",
    "LedgerToken",
    "MediaAccess",
    "MediaObject",
    "MirrorCursor",
    "Role",
    "TokenBalance",
    "TokenSupply",
    "VerificationMethod",
]
