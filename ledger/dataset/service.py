"""Buyers' rules: creating datasets, uploading items and gold answers, appointing reviewers."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from sqlalchemy.orm import Session

from ledger.auth.models import Role
from ledger.auth.service import grant_role
from ledger.dataset import repository
from ledger.dataset.models import Dataset, DatasetReviewer, Item
from ledger.dataset.schemas import (
    DatasetCreate,
    DatasetPublic,
    DatasetStatus,
    EscrowPublic,
    GoldAnswer,
    ItemIn,
    ItemsCreated,
)
from ledger.kit.errors import Conflict, Forbidden, NotFound, Unprocessable
from ledger.kit.types import bytes32_hex, checksum
from ledger.mirror import repository as mirror
from ledger.mirror.models import EscrowRecord

MAX_ITEMS_PER_UPLOAD = 100_000


class DatasetNotFound(NotFound):
    code = "dataset_not_found"


class NotDatasetBuyer(Forbidden):
    code = "not_dataset_buyer"


class TokenNotAllowed(Unprocessable):
    code = "payment_token_not_allowed"


class DuplicateItem(Conflict):
    code = "duplicate_item"


class UnknownItem(NotFound):
    code = "unknown_item"


class LabelOutsideSchema(Unprocessable):
    code = "label_outside_schema"


class NothingPayable(Unprocessable):
    code = "nothing_payable"


def escrow_id_of(buyer: str, salt: bytes) -> str:
    """The escrow contract's `datasetIdOf(buyer, salt)`, computed off chain."""
    return bytes32_hex(keccak(abi_encode(["address", "bytes32"], [buyer, salt])))


def create_dataset(
    session: Session, *, buyer: str, spec: DatasetCreate, allowed_tokens: Sequence[str]
) -> Dataset:
    token = checksum(spec.payment_token)
    if token not in allowed_tokens:
        raise TokenNotAllowed(
            f"{token} is not an allowed payment token; allowed: {', '.join(allowed_tokens)}"
        )
    if spec.price_per_label == 0 and spec.reward_per_label == 0:
        raise NothingPayable("a dataset must pay a price or a reward per verified label")
    salt = secrets.token_bytes(32)
    dataset = Dataset(
        buyer=buyer,
        name=spec.name,
        label_schema={"type": "classes", "classes": spec.label_classes},
        payment_token=token,
        price_per_label=spec.price_per_label,
        reward_per_label=spec.reward_per_label,
        escrow_salt=bytes32_hex(salt),
        escrow_id=escrow_id_of(buyer, salt),
    )
    session.add(dataset)
    session.flush()
    return dataset


def get_dataset(session: Session, dataset_id: int) -> Dataset:
    dataset = repository.get_dataset(session, dataset_id)
    if dataset is None:
        raise DatasetNotFound(f"no dataset {dataset_id}")
    return dataset


def get_owned_dataset(session: Session, *, dataset_id: int, buyer: str) -> Dataset:
    dataset = get_dataset(session, dataset_id)
    if dataset.buyer != buyer:
        raise NotDatasetBuyer(f"dataset {dataset_id} belongs to another buyer")
    return dataset


def label_classes(dataset: Dataset) -> list[str]:
    classes: list[str] = dataset.label_schema["classes"]
    return classes


def check_label(dataset: Dataset, value: str) -> None:
    if value not in label_classes(dataset):
        raise LabelOutsideSchema(
            f"{value!r} is not a class of dataset {dataset.id}; "
            f"classes: {', '.join(label_classes(dataset))}"
        )


def escrow_record(session: Session, dataset: Dataset) -> EscrowRecord | None:
    record = mirror.get_escrow(session, dataset.escrow_id)
    # The id binds the buyer; a record in another token cannot pay this dataset's labels.
    if record is None or record.token != dataset.payment_token:
        return None
    return record


def status_of(session: Session, dataset: Dataset) -> DatasetStatus:
    record = escrow_record(session, dataset)
    if record is None:
        return DatasetStatus.awaiting_funds
    return DatasetStatus.closed if record.closed else DatasetStatus.open


def to_public(session: Session, dataset: Dataset, *, escrow_address: str) -> DatasetPublic:
    record = escrow_record(session, dataset)
    return DatasetPublic(
        id=dataset.id,
        name=dataset.name,
        buyer=dataset.buyer,
        label_classes=label_classes(dataset),
        payment_token=dataset.payment_token,
        price_per_label=dataset.price_per_label,
        reward_per_label=dataset.reward_per_label,
        status=status_of(session, dataset),
        escrow=EscrowPublic(
            address=escrow_address,
            escrow_id=dataset.escrow_id,
            salt=dataset.escrow_salt,
            funded=record.funded if record else 0,
            available=record.available if record else 0,
            debited=record.debited if record else 0,
            refunded=record.refunded if record else 0,
            closed=record.closed if record else False,
        ),
        item_count=repository.item_count(session, dataset.id),
    )


def upload_items(session: Session, *, dataset: Dataset, items: Sequence[ItemIn]) -> ItemsCreated:
    """Adds items all or nothing: one bad or duplicate item refuses the whole upload."""
    if not items:
        raise Unprocessable("the upload holds no items")
    if len(items) > MAX_ITEMS_PER_UPLOAD:
        raise Unprocessable(f"at most {MAX_ITEMS_PER_UPLOAD} items per upload; split the file")
    ids = [item.id for item in items]
    seen: set[str] = set()
    for external_id in ids:
        if external_id in seen:
            raise DuplicateItem(f"item id {external_id!r} appears twice in the upload")
        seen.add(external_id)
    for item in items:
        if item.gold is not None:
            check_label(dataset, item.gold)
    clash = repository.existing_external_ids(session, dataset.id, ids)
    if clash:
        raise DuplicateItem(
            f"{len(clash)} item id(s) already exist in dataset {dataset.id}, "
            f"e.g. {sorted(clash)[0]!r}"
        )
    session.add_all(
        Item(dataset_id=dataset.id, external_id=i.id, data=i.data, gold_label=i.gold) for i in items
    )
    session.flush()
    return ItemsCreated(created=len(items), gold=sum(1 for i in items if i.gold is not None))


def set_gold(session: Session, *, dataset: Dataset, answers: Sequence[GoldAnswer]) -> list[Item]:
    """Marks existing items as gold; the caller auto-decides labels already on them."""
    if not answers:
        raise Unprocessable("no gold answers given")
    for answer in answers:
        check_label(dataset, answer.label)
    ids = [a.item_id for a in answers]
    items = {i.external_id: i for i in repository.items_by_external_id(session, dataset.id, ids)}
    missing = [i for i in ids if i not in items]
    if missing:
        raise UnknownItem(f"dataset {dataset.id} has no item {missing[0]!r}")
    for answer in answers:
        items[answer.item_id].gold_label = answer.label
    session.flush()
    return list(items.values())


def appoint_reviewer(session: Session, *, dataset: Dataset, address: str) -> None:
    reviewer = checksum(address)
    if reviewer == dataset.buyer:
        raise Unprocessable("the buyer cannot be their own dataset's reviewer")
    grant_role(session, address=reviewer, role=Role.reviewer)
    if not repository.is_reviewer(session, dataset.id, reviewer):
        session.add(DatasetReviewer(dataset_id=dataset.id, address=reviewer))
        session.flush()
