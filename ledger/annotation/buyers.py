"""A buyer's record as annotators see it before taking their work: how often the buyer's labels
are rejected, how fast they are reviewed, how disputes against them end."""

from __future__ import annotations

import statistics

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.annotation.models import (
    Dispute,
    DisputeStatus,
    Label,
    LabelStatus,
    VerificationMethod,
)
from ledger.annotation.schemas import BuyerRecord
from ledger.dataset.models import Dataset

#: The median review time is taken over the buyer's latest reviews, not all of history.
RECENT_REVIEWS = 10_000


def buyer_record(session: Session, buyer: str) -> BuyerRecord:
    owned = select(Dataset.id).where(Dataset.buyer == buyer)
    counts = dict(
        session.execute(
            select(Label.status, func.count())
            .where(Label.dataset_id.in_(owned), Label.status != LabelStatus.pending)
            .group_by(Label.status)
        ).all()
    )
    reviews = session.execute(
        select(Label.status, Label.created_at, Label.decided_at)
        .where(
            Label.dataset_id.in_(owned),
            # a rejection overturned on appeal was reviewed too
            Label.method.in_([VerificationMethod.review, VerificationMethod.appeal]),
        )
        .order_by(Label.decided_at.desc())
        .limit(RECENT_REVIEWS)
    ).all()
    waits = [(decided - created).total_seconds() for _s, created, decided in reviews if decided]
    disputes = dict(
        session.execute(
            select(Dispute.status, func.count())
            .join(Label, Label.id == Dispute.label_id)
            .where(Label.dataset_id.in_(owned))
            .group_by(Dispute.status)
        ).all()
    )
    decided = sum(counts.values())
    rejected = counts.get(LabelStatus.rejected, 0)
    reviewed_rejected = sum(1 for status, _c, _d in reviews if status is LabelStatus.rejected)
    return BuyerRecord(
        buyer=buyer,
        labels_decided=decided,
        rejection_rate=rejected / decided if decided else None,
        labels_reviewed=len(reviews),
        review_rejection_rate=reviewed_rejected / len(reviews) if reviews else None,
        median_review_seconds=statistics.median(waits) if waits else None,
        disputes_open=disputes.get(DisputeStatus.open, 0),
        disputes_upheld=disputes.get(DisputeStatus.upheld, 0),
        disputes_denied=disputes.get(DisputeStatus.denied, 0),
    )
