"""The registry of label kinds: one module per kind, each the only place that knows its labels
(schema, canonical text, agreement, consensus, gold grading, what the buyer downloads).
Everything else asks `kind_named(dataset's label type)`."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ledger.kinds.base import MAX_LABEL_CHARS, Answer, LabelKind, NotAnAnswer
from ledger.kinds.boxes import Boxes
from ledger.kinds.classes import Classes
from ledger.kinds.cuboids import Cuboids
from ledger.kinds.entities import Entities
from ledger.kinds.keypoints import Keypoints
from ledger.kinds.masks import Masks
from ledger.kinds.multilabel import MultiLabel
from ledger.kinds.objects import Objects
from ledger.kinds.polygons import Polygons
from ledger.kinds.preference import Preference
from ledger.kinds.ranking import Ranking
from ledger.kinds.ratings import Ratings
from ledger.kinds.segments import Segments
from ledger.kinds.spans import Spans
from ledger.kinds.texts import Texts
from ledger.kinds.tracks import Tracks
from ledger.kinds.transcripts import Transcripts
from ledger.kinds.written import Written

KINDS: Mapping[str, LabelKind] = MappingProxyType(
    {
        kind.name: kind
        for kind in (
            Classes(),
            Boxes(),
            Spans(),
            Objects(),
            Polygons(),
            Keypoints(),
            Masks(),
            MultiLabel(),
            Entities(),
            Texts(),
            Transcripts(),
            Segments(),
            Tracks(),
            Cuboids(),
            Preference(),
            Ranking(),
            Ratings(),
            Written(),
        )
    }
)


def kind_named(name: str) -> LabelKind:
    """The kind called `name` (a dataset's label type); KeyError for a name not registered."""
    return KINDS[name]


__all__ = ["KINDS", "MAX_LABEL_CHARS", "Answer", "LabelKind", "NotAnAnswer", "kind_named"]
