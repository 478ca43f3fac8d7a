"""Buyers' rules: creating datasets, their instructions, gold answers, reviewers and private
workforces; who may see a dataset at all."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from sqlalchemy.orm import Session

from ledger.annotation import queue
from ledger.annotation.buyers import buyer_record
from ledger.auth.models import Role
from ledger.auth.service import grant_role
from ledger.chain.client import ChainClient, Deployment
from ledger.dataset import repository
from ledger.dataset.models import (
    Dataset,
    DatasetInstructions,
    DatasetMember,
    DatasetReviewer,
    Item,
)
from ledger.dataset.schemas import (
    ChainCall,
    ChainRecordPublic,
    CloseSteps,
    DatasetCreate,
    DatasetPublic,
    DatasetStatus,
    ExampleItem,
    GoldAnswer,
    InstructionsIn,
    InstructionsPublic,
    LabelType,
    LeaseTerms,
    VerificationSpec,
    WorkforcePublic,
)
from ledger.kinds import Answer, LabelKind, NotAnAnswer, kind_named
from ledger.kit.db import hold_writes
from ledger.kit.errors import Conflict, Forbidden, NotFound, Unprocessable
from ledger.kit.types import bytes32_hex, checksum
from ledger.mirror import repository as mirror
from ledger.mirror.models import ChainDataset
from ledger.publication import (
    gold_document,
    instructions_hash,
    item_id_hash,
    keccak_hex,
    random_nonce,
    terms_document,
)
from ledger.quality.agreement import Consensus
from ledger.storage.service import MediaVault


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


class GoldCommitted(Conflict):
    code = "gold_committed"


class NotAWorkforceMember(NotFound):
    code = "workforce_member_not_found"


class NotPrivate(Conflict):
    code = "dataset_not_private"


def chain_dataset_id_of(buyer: str, salt: bytes) -> str:
    """The ledger's `datasetIdOf(buyer, salt)`, computed off chain, as 0x + 64 hex."""
    return bytes32_hex(keccak(abi_encode(["address", "bytes32"], [buyer, salt])))


def create_dataset(
    session: Session,
    *,
    buyer: str,
    spec: DatasetCreate,
    allowed_tokens: Sequence[str],
    vault: MediaVault,
) -> Dataset:
    token = checksum(spec.payment_token)
    if token not in allowed_tokens:
        raise TokenNotAllowed(
            f"{token} is not an allowed payment token; allowed: {', '.join(allowed_tokens)}"
        )
    if spec.price_per_label == 0 and spec.reward_per_label == 0:
        raise NothingPayable("a dataset must pay a price or a reward per verified label")
    workforce = sorted({checksum(address) for address in spec.workforce})
    dataset = Dataset(
        buyer=buyer,
        name=spec.name,
        label_schema={"type": str(spec.label_type), "classes": spec.label_classes},
        payment_token=token,
        price_per_label=spec.price_per_label,
        reward_per_label=spec.reward_per_label,
        verification=spec.verification.model_dump(mode="json"),
        method=str(spec.verification.method),
        private=spec.private,
        lease_seconds=spec.lease_seconds,
        skip_limit=spec.skip_limit,
        instructions_version=1,
        items_visible_upto=0,
        item_count=0,
        gold_count=0,
        terms_nonce=random_nonce(),
        gold_nonce=random_nonce(),
        item_key=random_nonce(),
        # the key is bound to the dataset's id, which the insert gives: wrapped just below, in
        # the same transaction, so no dataset is ever stored without its key
        data_key=b"",
    )
    _check_examples(dataset, spec.examples)
    first = _instructions_row(dataset, spec, version=1)
    _seal_terms(dataset, gold=[], instructions=first.hash)
    session.add(dataset)
    session.flush()
    dataset.data_key = vault.wrap_new_dataset_key(dataset.id)
    first.dataset_id = dataset.id
    session.add(first)
    session.add_all(DatasetMember(dataset_id=dataset.id, address=a) for a in workforce)
    session.flush()
    return dataset


def _instructions_row(
    dataset: Dataset, spec: InstructionsIn, *, version: int
) -> DatasetInstructions:
    examples = [example.model_dump(mode="json") for example in spec.examples]
    return DatasetInstructions(
        dataset_id=dataset.id,
        version=version,
        markdown=spec.instructions,
        examples=examples,
        hash=instructions_hash(spec.instructions, examples),
    )


def _check_examples(dataset: Dataset, examples: Sequence[ExampleItem]) -> None:
    for number, example in enumerate(examples, start=1):
        try:
            check_label(dataset, example.label)
        except LabelOutsideSchema as exc:
            raise LabelOutsideSchema(f"example {number}: {exc.message}") from exc


def _seal_terms(dataset: Dataset, *, gold: Sequence[tuple[str, str]], instructions: str) -> None:
    """(Re)writes the dataset's terms and the salt they hash to, with `gold` as its (external
    id, answer) pairs and `instructions` the hash of its first instructions. Only while it is
    not on the ledger: afterwards the chain holds the salt."""
    hashed = [(item_id_hash(dataset.item_key, item), answer) for item, answer in gold]
    dataset.gold_document = gold_document(dataset.gold_nonce, hashed) if gold else None
    dataset.terms = terms_document(
        buyer=dataset.buyer,
        payment_token=dataset.payment_token,
        price_per_label=dataset.price_per_label,
        reward_per_label=dataset.reward_per_label,
        label_schema=dataset.label_schema,
        verification=dataset.verification,
        instructions_hash=instructions,
        gold_commitment=keccak_hex(dataset.gold_document) if dataset.gold_document else None,
        nonce=dataset.terms_nonce,
    )
    salt = keccak(dataset.terms.encode())
    dataset.salt = bytes32_hex(salt)
    dataset.chain_dataset_id = chain_dataset_id_of(dataset.buyer, salt)


def reseal_terms(session: Session, dataset: Dataset) -> None:
    """Folds the dataset's gold answers and first instructions into its terms (and so its salt
    and ledger id), before it is on the ledger."""
    gold = repository.gold_answers(session, dataset.id, upto=dataset.items_visible_upto)
    first = session.get(DatasetInstructions, (dataset.id, 1))
    assert first is not None, "every dataset has its first instructions"
    _seal_terms(dataset, gold=gold, instructions=first.hash)
    session.flush()


def on_ledger(session: Session, dataset: Dataset) -> bool:
    return mirror.get_chain_dataset(session, dataset.chain_dataset_id) is not None


def refuse_gold_once_on_chain(session: Session, dataset: Dataset) -> None:
    if on_ledger(session, dataset):
        raise GoldCommitted(
            f"dataset {dataset.id} is on the ledger: its gold answers were committed with it "
            "and cannot change; upload these items without gold, or create a new dataset"
        )


def item_data_sealer(vault: MediaVault, dataset: Dataset) -> Callable[[str, Any], bytes]:
    """Seals items' data for storage (`Item.sealed_data`), for one upload: `sealer(external id,
    data)` gives the data's JSON sealed under the dataset's key, bound to the dataset and that
    external id. With `item_data`, the one place item data is sealed and opened."""
    seal = vault.item_sealer(dataset.id, wrapped_key=dataset.data_key)

    def sealer(external_id: str, data: Any) -> bytes:
        return seal(external_id, orjson.dumps(data))

    return sealer


def item_data(vault: MediaVault, dataset: Dataset, external_id: str, sealed: bytes) -> Any:
    """An item's data as its buyer uploaded it, from its sealed column. Media references
    (`media:<name>`) are still in it: what is shown to a wallet goes through
    `ledger.media_access.service.shown_item_data`, which turns them into signed URLs."""
    opened = vault.open_item_data(dataset.id, external_id, sealed, wrapped_key=dataset.data_key)
    return orjson.loads(opened)


def get_dataset(session: Session, dataset_id: int) -> Dataset:
    """A dataset by id, for the service itself: no visibility check (see `visible_dataset`)."""
    dataset = repository.get_dataset(session, dataset_id)
    if dataset is None:
        raise DatasetNotFound(f"no dataset {dataset_id}")
    return dataset


def may_see(session: Session, dataset: Dataset, viewer: str, *, operator: bool = False) -> bool:
    """A private dataset exists only for its buyer, its workforce, its reviewers and operators."""
    if not dataset.private or viewer == dataset.buyer or operator:
        return True
    return repository.is_member(session, dataset.id, viewer) or repository.is_reviewer(
        session, dataset.id, viewer
    )


def visible_dataset(
    session: Session, *, dataset_id: int, viewer: str, operator: bool = False
) -> Dataset:
    """The dataset, if the viewer may know it exists; to anyone else it is not found, with the
    same answer as an id that was never used."""
    dataset = repository.get_dataset(session, dataset_id)
    if dataset is None or not may_see(session, dataset, viewer, operator=operator):
        raise DatasetNotFound(f"no dataset {dataset_id}")
    return dataset


def get_owned_dataset(session: Session, *, dataset_id: int, buyer: str) -> Dataset:
    dataset = visible_dataset(session, dataset_id=dataset_id, viewer=buyer)
    if dataset.buyer != buyer:
        raise NotDatasetBuyer(f"dataset {dataset_id} belongs to another buyer")
    return dataset


_SPECS: dict[str, VerificationSpec] = {}
_SPECS_KEPT = 4096


def verification_of(dataset: Dataset) -> VerificationSpec:
    """The dataset's verification terms, parsed once per process: they are part of the terms,
    which its ledger id (`chain_dataset_id`, from the salt) names exactly."""
    return spec_for(dataset.chain_dataset_id, dataset.verification)


def spec_for(chain_dataset_id: str, verification: dict[str, Any]) -> VerificationSpec:
    spec = _SPECS.get(chain_dataset_id)
    if spec is None:
        spec = VerificationSpec.model_validate(verification)
        if len(_SPECS) >= _SPECS_KEPT:
            _SPECS.clear()
        _SPECS[chain_dataset_id] = spec
    return spec


def normalized_value(dataset: Dataset, value: str) -> str:
    """A label's value as it is stored and compared (its kind's normal form: class names in
    Unicode NFC, as the classes themselves are)."""
    return label_kind_of(dataset).normalize(value)


def label_classes(dataset: Dataset) -> list[str]:
    classes: list[str] = dataset.label_schema["classes"]
    return classes


def label_type_of(dataset: Dataset) -> LabelType:
    return LabelType(dataset.label_schema.get("type", "classes"))


def label_kind_of(dataset: Dataset) -> LabelKind:
    """The registered kind of the dataset's labels (ledger.kinds)."""
    return kind_named(label_type_of(dataset))


def parse_answer(dataset: Dataset, value: str) -> Answer:
    """A label's value as its kind compares it; LabelOutsideSchema if it is not one."""
    try:
        return label_kind_of(dataset).read(
            value, classes=label_classes(dataset), where=f"dataset {dataset.id}"
        )
    except NotAnAnswer as wrong:
        raise LabelOutsideSchema(str(wrong)) from None


def check_label(dataset: Dataset, value: str) -> None:
    parse_answer(dataset, value)


def answers_agree(dataset: Dataset, a: str, b: str) -> bool:
    """Whether two labels are alike enough by their kind's similarity: the dataset's agreement
    threshold (equal classes, overlapping boxes or spans)."""
    threshold = verification_of(dataset).agreement_threshold
    kind = label_kind_of(dataset)
    return kind.agree(parse_answer(dataset, a), parse_answer(dataset, b), threshold)


def graded_right(dataset: Dataset, value: str, gold: str) -> bool:
    """Whether a label is right against its item's gold answer, as its kind grades it."""
    threshold = verification_of(dataset).agreement_threshold
    kind = label_kind_of(dataset)
    return kind.graded_right(parse_answer(dataset, value), parse_answer(dataset, gold), threshold)


class GoldNotGraded(Unprocessable):
    code = "gold_not_gradable"


def refuse_gold_if_reviewed_only(dataset: Dataset) -> None:
    """A kind without a measure of agreement (a written answer) cannot grade gold items."""
    kind = label_kind_of(dataset)
    if kind.reviewed_only:
        raise GoldNotGraded(
            f"dataset {dataset.id} labels {kind.name}, which only reviewers can judge: it takes "
            "no gold items"
        )


def agreed_answer(dataset: Dataset, values: Sequence[str]) -> Consensus:
    """The answer most of `values` agree with (see ledger.quality.agreement.consensus)."""
    threshold = verification_of(dataset).agreement_threshold
    answers = [parse_answer(dataset, v) for v in values]
    return label_kind_of(dataset).consensus(answers, threshold)


def chain_record(session: Session, dataset: Dataset) -> ChainDataset | None:
    record = mirror.get_chain_dataset(session, dataset.chain_dataset_id)
    # The id binds the buyer; a record in another token cannot pay this dataset's labels.
    if record is None or record.token != dataset.payment_token:
        return None
    return record


def status_of(session: Session, dataset: Dataset) -> DatasetStatus:
    record = chain_record(session, dataset)
    if record is None:
        return DatasetStatus.awaiting_funds
    return DatasetStatus(record.status)


def status_from(dataset: Dataset, *, status: str | None, token: str | None) -> DatasetStatus:
    """`status_of` from a mirrored record's status and token, read with the dataset."""
    if status is None or token != dataset.payment_token:
        return DatasetStatus.awaiting_funds
    return DatasetStatus(status)


def to_public(session: Session, dataset: Dataset, *, deployment: Deployment) -> DatasetPublic:
    record = chain_record(session, dataset)
    return DatasetPublic(
        id=dataset.id,
        name=dataset.name,
        buyer=dataset.buyer,
        private=dataset.private,
        instructions_version=dataset.instructions_version,
        leases=LeaseTerms(seconds=dataset.lease_seconds, skip_limit=dataset.skip_limit),
        label_type=label_type_of(dataset),
        label_classes=label_classes(dataset),
        payment_token=dataset.payment_token,
        price_per_label=dataset.price_per_label,
        reward_per_label=dataset.reward_per_label,
        verification=verification_of(dataset),
        status=status_of(session, dataset),
        buyer_record=buyer_record(session, dataset.buyer),
        chain=ChainRecordPublic(
            ledger=deployment.ledger,
            dataset_id=dataset.chain_dataset_id,
            salt=dataset.salt,
            token_index=deployment.token_index(dataset.payment_token),
            fee_bps=record.fee_bps if record else None,
            status=record.status if record else None,
            close_due_at=record.close_due_at if record else None,
            funded=record.funded if record else 0,
            available=record.available if record else 0,
            debited=record.debited if record else 0,
            fees=record.fees if record else 0,
            refunded=record.refunded if record else 0,
        ),
        item_count=dataset.item_count,
    )


class CloseNotPossible(Conflict):
    code = "dataset_not_closable"


def close_steps(
    session: Session, *, dataset: Dataset, deployment: Deployment, client: ChainClient, now: int
) -> CloseSteps:
    """What the buyer's wallet sends to close: `requestClose`, then after the grace period
    `finalizeClose` (which refunds what is still available). The service learns of each from the
    chain's events, never from the buyer's word."""
    record = chain_record(session, dataset)
    status = status_of(session, dataset)
    if record is None:
        raise CloseNotPossible(
            f"dataset {dataset.id} is not on the ledger yet: there is nothing to close"
        )
    ledger = client.contract("LabelLedger", deployment.ledger)
    chain_id = int(dataset.chain_dataset_id, 16)
    if record.status == "open":
        call = ChainCall(
            function="requestClose",
            to=deployment.ledger,
            data=ledger.encode_abi("requestClose", args=[chain_id]),
        )
        message = (
            "send requestClose: no new labels are taken; labels verified before it are still "
            "paid; finalizeClose refunds the rest after the grace period"
        )
        return CloseSteps(
            dataset_id=dataset.id, status=status, next=call, due_at=None, message=message
        )
    if record.status == "closing":
        due = record.close_due_at
        call = ChainCall(
            function="finalizeClose",
            to=deployment.ledger,
            data=ledger.encode_abi("finalizeClose", args=[chain_id]),
        )
        ready = due is not None and now >= due
        return CloseSteps(
            dataset_id=dataset.id,
            status=status,
            next=call if ready else None,
            due_at=due,
            message=(
                "send finalizeClose: it refunds what is still available"
                if ready
                else f"finalizeClose can be sent from unix time {due} on (anyone may send it)"
            ),
        )
    return CloseSteps(
        dataset_id=dataset.id,
        status=status,
        next=None,
        due_at=record.close_due_at,
        message=f"dataset {dataset.id} is closed; {record.refunded} was refunded",
    )


def set_gold(session: Session, *, dataset: Dataset, answers: Sequence[GoldAnswer]) -> list[Item]:
    """Marks existing items as gold, before the dataset is on the ledger (its terms commit to
    the gold answers, so afterwards they are fixed)."""
    if not answers:
        raise Unprocessable("no gold answers given")
    refuse_gold_if_reviewed_only(dataset)
    for answer in answers:
        check_label(dataset, answer.label)
    hold_writes(session)
    refuse_gold_once_on_chain(session, dataset)
    ids = [a.item_id for a in answers]
    items = {
        i.external_id: i
        for i in repository.items_by_external_id(
            session, dataset.id, ids, upto=dataset.items_visible_upto
        )
    }
    missing = [i for i in ids if i not in items]
    if missing:
        raise UnknownItem(f"dataset {dataset.id} has no item {missing[0]!r}")
    places = verification_of(dataset).places(gold=True)
    for answer in answers:
        item = items[answer.item_id]
        dataset.gold_count += not item.gold
        item.gold_label = normalized_value(dataset, answer.label)
        item.gold = True
        item.places = places
    session.flush()
    reseal_terms(session, dataset)
    return list(items.values())


def instructions(
    session: Session, *, dataset: Dataset, version: int | None = None
) -> InstructionsPublic:
    chosen = version or dataset.instructions_version
    row = session.get(DatasetInstructions, (dataset.id, chosen))
    if row is None:
        raise NotFound(
            f"dataset {dataset.id} has instructions versions 1 to {dataset.instructions_version}"
        )
    return InstructionsPublic(
        dataset_id=dataset.id,
        version=row.version,
        instructions=row.markdown,
        examples=[ExampleItem.model_validate(e) for e in row.examples],
        hash=row.hash,
        created_at=row.created_at,
        committed=row.version == 1,
    )


def set_instructions(
    session: Session, *, dataset: Dataset, spec: InstructionsIn, now: dt.datetime
) -> InstructionsPublic:
    """Before the dataset is on the ledger, the instructions are rewritten in place and the
    terms (so the salt) follow them. Afterwards the terms are fixed on chain: each change is a
    new version, shown to annotators with every item and recorded with every label, so nobody is
    judged by rules they were not shown."""
    _check_examples(dataset, spec.examples)
    hold_writes(session)
    locked = session.get(Dataset, dataset.id, with_for_update=True, populate_existing=True)
    assert locked is not None
    if not on_ledger(session, locked):
        first = session.get(DatasetInstructions, (locked.id, 1))
        assert first is not None
        fresh = _instructions_row(locked, spec, version=1)
        first.markdown, first.examples, first.hash = fresh.markdown, fresh.examples, fresh.hash
        first.created_at = now
        reseal_terms(session, locked)
        return instructions(session, dataset=locked)
    row = _instructions_row(locked, spec, version=locked.instructions_version + 1)
    row.created_at = now
    session.add(row)
    locked.instructions_version = row.version
    session.flush()
    return instructions(session, dataset=locked)


def workforce(session: Session, *, dataset: Dataset) -> WorkforcePublic:
    return WorkforcePublic(
        dataset_id=dataset.id,
        private=dataset.private,
        members=repository.members(session, dataset.id),
    )


def _require_private(dataset: Dataset) -> None:
    if not dataset.private:
        raise NotPrivate(
            f"dataset {dataset.id} is open to every annotator: a workforce applies to private "
            "datasets (create one with private: true)"
        )


def admit(session: Session, *, dataset: Dataset, addresses: Sequence[str]) -> WorkforcePublic:
    _require_private(dataset)
    wanted = {checksum(a) for a in addresses}
    if dataset.buyer in wanted:
        raise Unprocessable("the buyer cannot label their own dataset")
    present = set(repository.members(session, dataset.id))
    session.add_all(
        DatasetMember(dataset_id=dataset.id, address=a) for a in sorted(wanted - present)
    )
    session.flush()
    return workforce(session, dataset=dataset)


def dismiss(session: Session, *, dataset: Dataset, address: str) -> WorkforcePublic:
    """Removes an annotator from a private dataset's workforce: they are served nothing more and
    their reservation ends; labels they already made are still decided and paid."""
    _require_private(dataset)
    member = session.get(DatasetMember, (dataset.id, checksum(address)))
    if member is None:
        raise NotAWorkforceMember(f"{checksum(address)} is not in dataset {dataset.id}'s workforce")
    session.delete(member)
    queue.release_all_of(session, dataset_id=dataset.id, annotator=member.address)
    session.flush()
    return workforce(session, dataset=dataset)


def appoint_reviewer(session: Session, *, dataset: Dataset, address: str) -> None:
    reviewer = checksum(address)
    if reviewer == dataset.buyer:
        raise Unprocessable("the buyer cannot be their own dataset's reviewer")
    grant_role(session, address=reviewer, role=Role.reviewer)
    if not repository.is_reviewer(session, dataset.id, reviewer):
        session.add(DatasetReviewer(dataset_id=dataset.id, address=reviewer))
        session.flush()
