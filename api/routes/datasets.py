"""Buyers' endpoints: datasets, items, gold answers, instructions, reviewers, workforces, skipped
items, delivered labels. A private dataset answers 404 to whoever may not see it, on every route,
as an id that was never used would."""

from __future__ import annotations

import tempfile
from typing import IO, Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from api.deps import Buyer, CallerDep, NowDep, PathId, RuntimeDep, SessionDep
from api.errors import ERROR_RESPONSES
from ledger.annotation import agreement as agreement_reports
from ledger.annotation import queue
from ledger.annotation import repository as label_repository
from ledger.annotation import service as annotation
from ledger.annotation.models import Assignment, LabelStatus
from ledger.annotation.schemas import Aggregator, AgreementReportPublic, DeliveredLabel
from ledger.dataset import ingest, repository
from ledger.dataset import service as datasets
from ledger.dataset.models import Item
from ledger.dataset.schemas import (
    CloseSteps,
    DatasetCreate,
    DatasetProgress,
    DatasetPublic,
    GoldAnswer,
    InstructionsIn,
    InstructionsPublic,
    ItemIn,
    ItemsCreated,
    ReviewerAppoint,
    ReviewerPublic,
    SkippedItem,
    WorkforceChange,
    WorkforcePublic,
)
from ledger.kit.errors import Unprocessable
from ledger.kit.types import MAX_ROW_ID

router = APIRouter(prefix="/v1/datasets", tags=["datasets"], responses=ERROR_RESPONSES)

MAX_UPLOAD_BYTES = 64 * 1024 * 1024
JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")
#: The request body is spooled to disk past this, so an upload's memory stays bounded.
SPOOL_BYTES = 1 << 20


@router.post("", response_model=DatasetPublic, status_code=201)
def create_dataset(
    body: DatasetCreate, caller: Buyer, session: SessionDep, runtime: RuntimeDep
) -> DatasetPublic:
    """Creates a dataset. Create and fund it on the ledger (`chain.ledger`) with
    `createAndFund(chain.salt, chain.token_index, amount)` after approving the ledger; each debit
    needs `chain.fee_bps` on top of it."""
    dataset = datasets.create_dataset(
        session,
        buyer=caller.address,
        spec=body,
        allowed_tokens=runtime.deployment.payment_token_addresses,
        vault=runtime.vault,
    )
    return datasets.to_public(session, dataset, deployment=runtime.deployment)


@router.get("", response_model=list[DatasetPublic])
def list_datasets(
    caller: CallerDep, session: SessionDep, runtime: RuntimeDep
) -> list[DatasetPublic]:
    """Every dataset you may see: the open ones, and private ones you buy, work on or review."""
    return [
        datasets.to_public(session, d, deployment=runtime.deployment)
        for d in repository.list_datasets(session, viewer=caller.address, operator=caller.operator)
    ]


@router.get("/{dataset_id}", response_model=DatasetPublic)
def get_dataset(
    dataset_id: PathId, caller: CallerDep, session: SessionDep, runtime: RuntimeDep
) -> DatasetPublic:
    dataset = datasets.visible_dataset(
        session, dataset_id=dataset_id, viewer=caller.address, operator=caller.operator
    )
    return datasets.to_public(session, dataset, deployment=runtime.deployment)


@router.get("/{dataset_id}/close", response_model=CloseSteps)
def close_steps(
    dataset_id: PathId, caller: Buyer, session: SessionDep, runtime: RuntimeDep
) -> CloseSteps:
    """What your wallet sends to close the dataset on the ledger: `requestClose` (no new labels;
    labels submitted before it are still reviewed and paid), then after the grace period
    `finalizeClose`, which refunds what is left."""
    dataset = datasets.get_owned_dataset(session, dataset_id=dataset_id, buyer=caller.address)
    return datasets.close_steps(
        session,
        dataset=dataset,
        deployment=runtime.deployment,
        client=runtime.chain,
        now=int(runtime.chain.w3.eth.get_block("latest")["timestamp"]),
    )


@router.post(
    "/{dataset_id}/items",
    response_model=ItemsCreated,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "array", "items": ItemIn.model_json_schema()}
                },
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
async def upload_items(
    dataset_id: PathId,
    request: Request,
    caller: Buyer,
    session: SessionDep,
    runtime: RuntimeDep,
    now: NowDep,
) -> ItemsCreated:
    """Adds items from a JSON array or JSONL (one `{"id", "data", "gold"?}` per line), at most
    100,000 per upload, all or nothing: one bad or duplicate item refuses the upload. The body is
    streamed to disk and written in batches off the event loop, so other requests are served
    meanwhile. A string `"media:<name>"` anywhere in an item's data refers to a file uploaded
    with PUT /v1/datasets/{id}/media/{name} (`unknown_media_reference` if there is none): each
    wallet shown the item gets a signed URL of its own in its place. Other strings, your own
    https:// URLs too, are shown as given (then your host guards them). Item data is stored
    encrypted with the dataset's key."""
    await run_in_threadpool(
        datasets.get_owned_dataset, session, dataset_id=dataset_id, buyer=caller.address
    )
    # The upload runs its own short transactions; this request's holds nothing from here on.
    await run_in_threadpool(session.rollback)
    jsonl = request.headers.get("content-type", "").split(";", maxsplit=1)[0].strip() in JSONL_TYPES
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as body:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise Unprocessable(f"upload over {MAX_UPLOAD_BYTES // 2**20} MiB; split the file")
            body.write(chunk)
        body.seek(0)
        source: IO[bytes] = body
        return await run_in_threadpool(
            ingest.ingest,
            runtime.db,
            runtime.vault,
            dataset_id=dataset_id,
            source=source,
            jsonl=jsonl,
            now=now,
        )


@router.post("/{dataset_id}/gold", response_model=ItemsCreated)
def set_gold(
    dataset_id: PathId, body: list[GoldAnswer], caller: Buyer, session: SessionDep
) -> ItemsCreated:
    """Marks existing items as gold, before the dataset is created on the ledger: the terms its
    buyer creates it with commit to the gold answers, so afterwards they are fixed
    (`gold_committed`). The dataset's salt and ledger id change with each gold answer added."""
    dataset = datasets.get_owned_dataset(session, dataset_id=dataset_id, buyer=caller.address)
    items = datasets.set_gold(session, dataset=dataset, answers=body)
    return ItemsCreated(created=0, gold=len(items))


@router.get("/{dataset_id}/instructions", response_model=InstructionsPublic)
def get_instructions(
    dataset_id: PathId,
    caller: CallerDep,
    session: SessionDep,
    version: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> InstructionsPublic:
    """How to label the dataset: Markdown and example items, the version in force or an earlier
    one. Version 1 is the one its terms commit to (by hash)."""
    dataset = datasets.visible_dataset(
        session, dataset_id=dataset_id, viewer=caller.address, operator=caller.operator
    )
    return datasets.instructions(session, dataset=dataset, version=version)


@router.put("/{dataset_id}/instructions", response_model=InstructionsPublic)
def set_instructions(
    dataset_id: PathId, body: InstructionsIn, caller: Buyer, session: SessionDep, now: NowDep
) -> InstructionsPublic:
    """Rewrites the instructions. Before the dataset is on the ledger this changes its terms
    (read `chain.salt` again); afterwards it is a new version, which next-item shows to every
    annotator and every label records."""
    dataset = datasets.get_owned_dataset(session, dataset_id=dataset_id, buyer=caller.address)
    return datasets.set_instructions(session, dataset=dataset, spec=body, now=now)


@router.get("/{dataset_id}/progress", response_model=DatasetProgress)
def progress(dataset_id: PathId, caller: Buyer, session: SessionDep) -> DatasetProgress:
    """How the work goes: items labelled, labels pending, verified, rejected and paid, the
    epochs that paid them. For the buyer only: the counts include verdicts on gold items still
    sealed from their annotators, so watching them would tell which items are gold."""
    dataset = datasets.get_owned_dataset(session, dataset_id=dataset_id, buyer=caller.address)
    return repository.progress_counts(session, dataset)


@router.get("/{dataset_id}/reviewers", response_model=list[ReviewerPublic])
def list_reviewers(dataset_id: PathId, caller: Buyer, session: SessionDep) -> list[ReviewerPublic]:
    """The reviewers you appointed to your dataset, first appointed first."""
    dataset = datasets.get_owned_dataset(session, dataset_id=dataset_id, buyer=caller.address)
    return [
        ReviewerPublic(address=r.address, appointed_at=r.appointed_at)
        for r in repository.reviewers(session, dataset.id)
    ]


@router.post("/{dataset_id}/reviewers", status_code=204)
def appoint_reviewer(
    dataset_id: PathId, body: ReviewerAppoint, caller: Buyer, session: SessionDep
) -> None:
    dataset = datasets.get_owned_dataset(session, dataset_id=dataset_id, buyer=caller.address)
    datasets.appoint_reviewer(session, dataset=dataset, address=body.address)


@router.get("/{dataset_id}/workforce", response_model=WorkforcePublic)
def get_workforce(dataset_id: PathId, caller: Buyer, session: SessionDep) -> WorkforcePublic:
    """Who may label your private dataset."""
    dataset = datasets.get_owned_dataset(session, dataset_id=dataset_id, buyer=caller.address)
    return datasets.workforce(session, dataset=dataset)


@router.post("/{dataset_id}/workforce", response_model=WorkforcePublic)
def admit_to_workforce(
    dataset_id: PathId, body: WorkforceChange, caller: Buyer, session: SessionDep
) -> WorkforcePublic:
    """Admits annotators to your private dataset, also while it runs."""
    dataset = datasets.get_owned_dataset(session, dataset_id=dataset_id, buyer=caller.address)
    return datasets.admit(session, dataset=dataset, addresses=body.addresses)


@router.delete("/{dataset_id}/workforce/{address}", response_model=WorkforcePublic)
def dismiss_from_workforce(
    dataset_id: PathId, address: str, caller: Buyer, session: SessionDep
) -> WorkforcePublic:
    """Removes an annotator: they see the dataset no more and their reservation ends; the labels
    they made are still decided and paid."""
    dataset = datasets.get_owned_dataset(session, dataset_id=dataset_id, buyer=caller.address)
    return datasets.dismiss(session, dataset=dataset, address=address)


@router.get("/{dataset_id}/skips", response_model=list[SkippedItem])
def skipped_items(
    dataset_id: PathId,
    caller: Buyer,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> list[SkippedItem]:
    """The items annotators skipped, most skipped first, with their reasons and comments."""
    dataset = datasets.get_owned_dataset(session, dataset_id=dataset_id, buyer=caller.address)
    return [
        SkippedItem(
            item_id=item.id,
            external_id=item.external_id,
            skips=len(skips),
            reasons=dict(sorted(_reasons(skips).items())),
            comments=[s.comment for s in skips if s.comment],
            set_aside=item.set_aside_at is not None,
        )
        for item, skips in queue.skipped_items(
            session, dataset_id=dataset.id, limit=limit, offset=offset
        )
    ]


def _reasons(skips: list[Assignment]) -> dict[str, int]:
    reasons: dict[str, int] = {}
    for skip in skips:
        key = str(skip.reason or "none")
        reasons[key] = reasons.get(key, 0) + 1
    return reasons


@router.post("/{dataset_id}/items/{item_id}/requeue", status_code=204)
def requeue_item(dataset_id: PathId, item_id: PathId, caller: Buyer, session: SessionDep) -> None:
    """Serves a set-aside item again (to annotators who have not skipped it), after you fixed
    what made annotators skip it."""
    dataset = datasets.get_owned_dataset(session, dataset_id=dataset_id, buyer=caller.address)
    item = session.get(Item, item_id)
    if item is None or item.dataset_id != dataset.id or item.id > dataset.items_visible_upto:
        raise datasets.UnknownItem(f"dataset {dataset.id} has no item {item_id}")
    queue.requeue(session, item_id=item.id)


@router.get("/{dataset_id}/agreement", response_model=AgreementReportPublic)
def agreement(
    dataset_id: PathId,
    caller: CallerDep,
    session: SessionDep,
    aggregator: Aggregator = Aggregator.dawid_skene,
) -> AgreementReportPublic:
    """The dataset's agreement report for its buyer and reviewers: Fleiss' kappa,
    Krippendorff's alpha (nominal), per-class confusion against the aggregate, and per annotator
    agreement with it, gold accuracy and estimated skill."""
    dataset = datasets.visible_dataset(
        session, dataset_id=dataset_id, viewer=caller.address, operator=caller.operator
    )
    if caller.address != dataset.buyer and not repository.is_reviewer(
        session, dataset.id, caller.address
    ):
        raise datasets.NotDatasetBuyer(
            f"dataset {dataset_id}'s agreement report is for its buyer and reviewers"
        )
    return agreement_reports.dataset_agreement(session, dataset=dataset, aggregator=aggregator)


@router.get("/{dataset_id}/labels", response_model=list[DeliveredLabel])
def delivered_labels(
    dataset_id: PathId,
    caller: Buyer,
    session: SessionDep,
    status: LabelStatus = LabelStatus.verified,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> list[DeliveredLabel]:
    """The buyer's labels, verified ones by default (gold verdicts included before they are
    revealed to their annotators), each as its text and as its kind's JSON value (`answer`)."""
    dataset = datasets.get_owned_dataset(session, dataset_id=dataset_id, buyer=caller.address)
    rows = label_repository.labels_with_items(
        session, dataset_id=dataset.id, status=status, limit=limit, offset=offset, unsealed=True
    )
    return [annotation.delivered(label, item, dataset) for label, item in rows]
