"""Buyers' endpoints: datasets, items, gold answers, reviewers, delivered labels."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError

from api.deps import Buyer, CallerDep, RuntimeDep, SessionDep
from api.errors import ERROR_RESPONSES
from ledger.annotation import agreement as agreement_reports
from ledger.annotation import repository as label_repository
from ledger.annotation import service as annotation
from ledger.annotation.models import LabelStatus
from ledger.annotation.schemas import Aggregator, AgreementReportPublic, LabelPublic
from ledger.dataset import repository
from ledger.dataset import service as datasets
from ledger.dataset.schemas import (
    CloseSteps,
    DatasetCreate,
    DatasetPublic,
    GoldAnswer,
    ItemIn,
    ItemsCreated,
    ReviewerAppoint,
)
from ledger.kit.errors import BadRequest, Unprocessable

router = APIRouter(prefix="/v1/datasets", tags=["datasets"], responses=ERROR_RESPONSES)

MAX_UPLOAD_BYTES = 64 * 1024 * 1024
JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")


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
    )
    return datasets.to_public(session, dataset, deployment=runtime.deployment)


@router.get("", response_model=list[DatasetPublic])
def list_datasets(
    _caller: CallerDep, session: SessionDep, runtime: RuntimeDep
) -> list[DatasetPublic]:
    return [
        datasets.to_public(session, d, deployment=runtime.deployment)
        for d in repository.list_datasets(session)
    ]


@router.get("/{dataset_id}", response_model=DatasetPublic)
def get_dataset(
    dataset_id: int, _caller: CallerDep, session: SessionDep, runtime: RuntimeDep
) -> DatasetPublic:
    dataset = datasets.get_dataset(session, dataset_id)
    return datasets.to_public(session, dataset, deployment=runtime.deployment)


@router.get("/{dataset_id}/close", response_model=CloseSteps)
def close_steps(
    dataset_id: int, caller: Buyer, session: SessionDep, runtime: RuntimeDep
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


def _parse_items(raw: bytes, content_type: str) -> list[ItemIn]:
    if len(raw) > MAX_UPLOAD_BYTES:
        raise Unprocessable(f"upload over {MAX_UPLOAD_BYTES // 2**20} MiB; split the file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("the upload is not UTF-8 text") from exc
    records: list[tuple[str, Any]] = []
    if content_type.split(";", maxsplit=1)[0].strip() in JSONL_TYPES:
        # Only "\n" ends a JSONL line: splitlines() would also cut at U+2028 and friends, which
        # JSON allows unescaped inside strings. A trailing "\r" is JSON whitespace.
        for number, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                records.append((f"line {number}", _loads(line, f"line {number}")))
    else:
        document = _loads(text, "body")
        if not isinstance(document, list):
            raise Unprocessable('expected a JSON array of {"id", "data"} objects, or JSONL')
        records = [(f"item {i}", r) for i, r in enumerate(document)]
    items = []
    for where, record in records:
        try:
            items.append(ItemIn.model_validate(record))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "item"
            raise Unprocessable(f"{where}: {field}: {first['msg']}") from exc
    return items


def _loads(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"{where} is not valid JSON: {exc.msg} at position {exc.pos}") from exc


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
    dataset_id: int, request: Request, caller: Buyer, session: SessionDep
) -> ItemsCreated:
    """Adds items from a JSON array or JSONL (one `{"id", "data", "gold"?}` per line)."""
    dataset = datasets.get_owned_dataset(session, dataset_id=dataset_id, buyer=caller.address)
    items = _parse_items(await request.body(), request.headers.get("content-type", ""))
    return datasets.upload_items(session, dataset=dataset, items=items)


@router.post("/{dataset_id}/gold", response_model=ItemsCreated)
def set_gold(
    dataset_id: int, body: list[GoldAnswer], caller: Buyer, session: SessionDep
) -> ItemsCreated:
    """Marks existing items as gold, before the dataset is created on the ledger: the terms its
    buyer creates it with commit to the gold answers, so afterwards they are fixed
    (`gold_committed`). The dataset's salt and ledger id change with each gold answer added."""
    dataset = datasets.get_owned_dataset(session, dataset_id=dataset_id, buyer=caller.address)
    items = datasets.set_gold(session, dataset=dataset, answers=body)
    return ItemsCreated(created=0, gold=len(items))


@router.post("/{dataset_id}/reviewers", status_code=204)
def appoint_reviewer(
    dataset_id: int, body: ReviewerAppoint, caller: Buyer, session: SessionDep
) -> None:
    dataset = datasets.get_owned_dataset(session, dataset_id=dataset_id, buyer=caller.address)
    datasets.appoint_reviewer(session, dataset=dataset, address=body.address)


@router.get("/{dataset_id}/agreement", response_model=AgreementReportPublic)
def agreement(
    dataset_id: int,
    caller: CallerDep,
    session: SessionDep,
    aggregator: Aggregator = Aggregator.dawid_skene,
) -> AgreementReportPublic:
    """The dataset's agreement report for its buyer and reviewers: Fleiss' kappa,
    Krippendorff's alpha (nominal), per-class confusion against the aggregate, and per annotator
    agreement with it, gold accuracy and estimated skill."""
    dataset = datasets.get_dataset(session, dataset_id)
    if caller.address != dataset.buyer and not repository.is_reviewer(
        session, dataset.id, caller.address
    ):
        raise datasets.NotDatasetBuyer(
            f"dataset {dataset_id}'s agreement report is for its buyer and reviewers"
        )
    return agreement_reports.dataset_agreement(session, dataset=dataset, aggregator=aggregator)


@router.get("/{dataset_id}/labels", response_model=list[LabelPublic])
def delivered_labels(
    dataset_id: int,
    caller: Buyer,
    session: SessionDep,
    status: LabelStatus = LabelStatus.verified,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[LabelPublic]:
    """The buyer's labels, verified ones by default."""
    dataset = datasets.get_owned_dataset(session, dataset_id=dataset_id, buyer=caller.address)
    rows = label_repository.labels_with_items(
        session, dataset_id=dataset.id, status=status, limit=limit, offset=offset
    )
    return [annotation.to_public(label, item) for label, item in rows]
