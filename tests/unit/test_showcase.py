"""The demo's showcase opens a dataset of every registered kind, each valid as the API reads it
(`DatasetCreate`), its items pointing at media the API itself serves."""

from __future__ import annotations

import pytest

from ledger.dataset.schemas import DatasetCreate
from ledger.kinds import KINDS
from ledger.media import media_file
from ledger.showcase import SHOWCASE, dataset_body, items

TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def test_the_showcase_has_a_dataset_of_every_kind() -> None:
    assert list(SHOWCASE) == list(KINDS)


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_showcase_dataset_is_one_the_api_accepts(kind: str) -> None:
    created = DatasetCreate.model_validate(
        dataset_body(kind, payment_token=TOKEN, price=1, reward=0)
    )
    assert created.label_type == kind
    for item in items(kind):
        for key in ("image", "audio", "video", "cloud"):
            if key in item["data"]:
                path = item["data"][key]
                assert path.startswith("/media/")
                assert media_file(path.removeprefix("/media/")).content, path
