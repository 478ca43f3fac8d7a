"""What the media endpoints answer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field


class MediaObjectPublic(BaseModel):
    """An uploaded media file of a dataset, as its buyer sees it."""

    name: str
    reference: str = Field(description='how an item\'s data refers to it: "media:<name>"')
    content_type: str
    size: int = Field(description="bytes, as uploaded (stored sealed, a little larger)")
    sha256: str = Field(description="hex SHA-256 of the bytes as uploaded")
    created_at: dt.datetime


class MediaAccessPublic(BaseModel):
    """One opening of a signed media URL: who opened which object of which item, when."""

    id: int
    wallet: str
    role: str = Field(
        description="why it was let in: annotator (held the item's lease), "
        "reviewer, buyer or operator"
    )
    item_id: int
    external_id: str
    object_name: str
    at: dt.datetime


class ItemView(BaseModel):
    """An item of your dataset as annotators are shown it: its data with each media reference
    turned into a signed URL (for you, for a few minutes)."""

    dataset_id: int
    item_id: int
    external_id: str
    data: Any
    gold: bool
