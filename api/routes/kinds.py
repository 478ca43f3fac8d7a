"""The label kinds this service accepts, as the registry describes them: what a client (the web
app's new-dataset form and labelling workspace, a buyer's script) needs to offer and write each."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.errors import ERROR_RESPONSES
from ledger.kinds import KINDS, LabelKind

router = APIRouter(prefix="/v1", tags=["kinds"], responses=ERROR_RESPONSES)


class KindPublic(BaseModel):
    name: str = Field(description="the label type to create a dataset with")
    summary: str
    media: list[str] = Field(description="what it labels: image, text, audio, video, 3d, llm, any")
    measure: str = Field(description="how two labels are compared for consensus and gold")
    needs_classes: bool = Field(description="whether the dataset lists label_classes")
    classes_are: str = Field(description="what label_classes mean for it")
    single_class: bool = Field(description="a label is one class: the class aggregators apply")
    reviewed_only: bool = Field(description="only reviewers judge it: no consensus, no gold")
    max_chars: int = Field(description="the longest label text it takes")


def _public(kind: LabelKind) -> KindPublic:
    return KindPublic(
        name=kind.name,
        summary=kind.summary,
        media=list(kind.media),
        measure=kind.measure,
        needs_classes=kind.needs_classes,
        classes_are=kind.classes_are,
        single_class=kind.single_class,
        reviewed_only=kind.reviewed_only,
        max_chars=kind.max_chars,
    )


@router.get("/kinds", response_model=list[KindPublic])
def kinds() -> list[KindPublic]:
    """Every label kind, in the registry's order."""
    return [_public(kind) for kind in KINDS.values()]
