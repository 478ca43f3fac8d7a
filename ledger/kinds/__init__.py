"""The registry of label kinds: one module per kind, each the only place that knows its labels
(schema, canonical text, agreement, consensus, gold grading, what the buyer downloads).
Everything else asks `kind_named(dataset's label type)`."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ledger.kinds.base import MAX_LABEL_CHARS, Answer, LabelKind, NotAnAnswer
from ledger.kinds.boxes import Boxes
from ledger.kinds.classes import Classes
from ledger.kinds.objects import Objects
from ledger.kinds.spans import Spans

KINDS: Mapping[str, LabelKind] = MappingProxyType(
    {kind.name: kind for kind in (Classes(), Boxes(), Spans(), Objects())}
)


def kind_named(name: str) -> LabelKind:
    """The kind called `name` (a dataset's label type); KeyError for a name not registered."""
    return KINDS[name]


__all__ = ["KINDS", "MAX_LABEL_CHARS", "Answer", "LabelKind", "NotAnAnswer", "kind_named"]
