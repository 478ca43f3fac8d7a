"""The HTTP API against a real running instance: sign-in, roles, datasets, labels, review.

Every refusal is checked three ways: the exact status, the exact error code, and that the
database holds exactly what it held before the request.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from sqlalchemy import func, select

from ledger.annotation.models import Label
from ledger.apiclient import ApiError, ApiUser
from ledger.auth.models import Account as AccountRow
from ledger.auth.models import AccountRole, AuthNonce, AuthSession
from ledger.auth.siwe import SiweMessage
from ledger.dataset.models import Dataset, DatasetReviewer, Item
from ledger.dataset.service import item_data
from ledger.settlement.models import Epoch
from tests.conftest import Instance
from tests.support import Chain

pytestmark = pytest.mark.chain

CLASSES = ["cat", "dog", "bird"]
PRICE = 250_000  # 0.25 dUSD
REWARD = 10**6  # 1 LABEL (6 decimals)
FUNDS = 100 * PRICE
GOLD_MISMATCH = "does not match the gold answer"


# --- helpers ---


@pytest.fixture
def http(instance: Instance) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=instance.url, timeout=30) as client:
        yield client


def wallet(chain: Chain) -> LocalAccount:
    """A fresh key with ETH for gas."""
    account = cast(LocalAccount, Account.create())
    chain.rpc("anvil_setBalance", account.address, hex(10**20))
    return account


def user(http: httpx.Client, chain: Chain, *roles: str) -> ApiUser:
    return ApiUser(http, wallet(chain)).sign_in(*roles)


def rows(instance: Instance, *models: type[Any]) -> dict[str, int]:
    with instance.runtime.db.unit_of_work() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in models
        }


def refused(status: int, code: str, call: Callable[[], object]) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()
    assert (caught.value.status, caught.value.code) == (status, code), caught.value
    return caught.value


def error_of(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    return str(error["message"])


def wait_until(what: str, check: Callable[[], bool], *, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.05)


def dataset_body(chain: Chain, **changes: Any) -> dict[str, Any]:
    return {
        "name": "Pets, three classes",
        "label_classes": CLASSES,
        "payment_token": chain.dusd.address,
        "price_per_label": PRICE,
        "reward_per_label": REWARD,
    } | changes


def create_dataset(buyer: ApiUser, chain: Chain, **changes: Any) -> dict[str, Any]:
    created: dict[str, Any] = buyer.post("/v1/datasets", json=dataset_body(chain, **changes))
    return created


def upload(buyer: ApiUser, dataset_id: int, records: list[dict[str, Any]]) -> Any:
    return buyer.post(f"/v1/datasets/{dataset_id}/items", json=records)


def upload_jsonl(buyer: ApiUser, dataset_id: int, text: str) -> Any:
    return buyer.post(
        f"/v1/datasets/{dataset_id}/items",
        content=text.encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )


def fund(chain: Chain, buyer: ApiUser, dataset: dict[str, Any], amount: int = FUNDS) -> None:
    """The buyer creates and funds the dataset on the ledger, as the API says to; returns once
    the API says it is open. The salt is read afresh: gold answers added since change it."""
    path = f"/v1/datasets/{dataset['id']}"
    dusd, ledger, on_chain = chain.dusd, chain.ledger, buyer.get(path)["chain"]
    assert on_chain["ledger"] == ledger.address
    chain.send(dusd.functions.mint(buyer.address, amount), buyer.wallet)
    chain.send(dusd.functions.approve(ledger.address, amount), buyer.wallet)
    salt = HexBytes(on_chain["salt"])
    chain.send(ledger.functions.createAndFund(salt, on_chain["token_index"], amount), buyer.wallet)
    wait_until("the mirror to see the deposit", lambda: buyer.get(path)["status"] == "open")


def item_ids(instance: Instance, dataset_id: int) -> dict[str, int]:
    with instance.runtime.db.unit_of_work() as session:
        items = session.scalars(select(Item).where(Item.dataset_id == dataset_id))
        return {item.external_id: item.id for item in items}


def stored_label(instance: Instance, label_id: int) -> Label:
    with instance.runtime.db.unit_of_work() as session:
        label = session.get(Label, label_id)
        assert label is not None
        return label


def label(annotator: ApiUser, item_id: int, value: str) -> dict[str, Any]:
    created: dict[str, Any] = annotator.post(
        "/v1/labels", json={"item_id": item_id, "value": value}
    )
    return created


@dataclass
class Market:
    """An open (funded) dataset with a buyer, an annotator and an appointed reviewer."""

    instance: Instance
    buyer: ApiUser
    annotator: ApiUser
    reviewer: ApiUser
    dataset: dict[str, Any]
    items: dict[str, int]  # external id -> item id

    @property
    def path(self) -> str:
        return f"/v1/datasets/{self.dataset['id']}"


ITEMS = [
    *({"id": f"img-{n}", "data": {"url": f"https://example.org/{n}.jpg"}} for n in range(5)),
    {"id": "gold-cat", "data": {"url": "https://example.org/c.jpg"}, "gold": "cat"},
    {"id": "gold-dog", "data": {"url": "https://example.org/d.jpg"}, "gold": "dog"},
]


#: Gold verdicts revealed at once: the tests using it look at them (sealing has its own tests).
REVEALED_AT_ONCE = {"gold_reveal_seconds": 0}


@pytest.fixture
def market(instance: Instance, http: httpx.Client, chain: Chain) -> Market:
    buyer = user(http, chain, "buyer")
    dataset = create_dataset(buyer, chain, verification=REVEALED_AT_ONCE)
    assert upload(buyer, dataset["id"], ITEMS) == {"created": 7, "gold": 2}
    reviewer = user(http, chain)
    buyer.post(f"/v1/datasets/{dataset['id']}/reviewers", json={"address": reviewer.address})
    dataset = buyer.get(f"/v1/datasets/{dataset['id']}")  # as it is funded: gold in its salt
    fund(chain, buyer, dataset)
    return Market(
        instance=instance,
        buyer=buyer,
        annotator=user(http, chain, "annotator"),
        reviewer=reviewer,
        dataset=dataset,
        items=item_ids(instance, dataset["id"]),
    )


# --- sign-in ---

SIGN_IN_TABLES = (AccountRow, AuthSession)


def sign_in_message(who: ApiUser, **changes: Any) -> str:
    """A message for a fresh nonce with every field right, except `changes`."""
    nonce = who.post("/v1/auth/nonce")
    now = dt.datetime.now(dt.UTC)
    fields: dict[str, Any] = {
        "domain": nonce["domain"],
        "address": who.address,
        "statement": nonce["statement"],
        "uri": nonce["uri"],
        "chain_id": nonce["chain_id"],
        "nonce": nonce["nonce"],
        "issued_at": now,
        "expiration_time": now + dt.timedelta(minutes=10),
    }
    return SiweMessage(**(fields | changes)).text()


def spent_nonces(instance: Instance) -> int:
    with instance.runtime.db.unit_of_work() as session:
        query = select(func.count()).select_from(AuthNonce).where(AuthNonce.used_at.is_not(None))
        return session.scalar(query) or 0


def open_session(http: httpx.Client, message: str, signature: str) -> httpx.Response:
    return http.post("/v1/auth/session", json={"message": message, "signature": signature})


MINUTE = dt.timedelta(minutes=1)
SIGN_IN_REFUSALS: dict[str, Callable[[dt.datetime], dict[str, Any]]] = {
    "wrong_domain": lambda _now: {"domain": "evil.example.org"},
    "wrong_uri": lambda _now: {"uri": "https://evil.example.org"},
    "wrong_chain_id": lambda _now: {"chain_id": 1},
    "expired": lambda now: {"issued_at": now - 20 * MINUTE, "expiration_time": now - MINUTE},
    "without_expiration_time": lambda _now: {"expiration_time": None},
    "issued_in_the_future": lambda now: {
        "issued_at": now + 10 * MINUTE,
        "expiration_time": now + 20 * MINUTE,
    },
    "not_valid_yet": lambda now: {"not_before": now + 5 * MINUTE},
    "unknown_nonce": lambda _now: {"nonce": "neverIssued0123456789"},
}


@pytest.mark.parametrize("case", list(SIGN_IN_REFUSALS))
def test_sign_in_refuses_message(
    instance: Instance, http: httpx.Client, chain: Chain, case: str
) -> None:
    who = ApiUser(http, wallet(chain))
    message = sign_in_message(who, **SIGN_IN_REFUSALS[case](dt.datetime.now(dt.UTC)))
    before = rows(instance, *SIGN_IN_TABLES)

    response = open_session(http, message, who.sign(message))

    error_of(response, 401, "invalid_sign_in")
    assert rows(instance, *SIGN_IN_TABLES) == before
    assert spent_nonces(instance) == 0


def test_sign_in_returns_a_bearer_token(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    who = ApiUser(http, wallet(chain))
    message = sign_in_message(who)

    response = open_session(http, message, who.sign(message))

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["address"] == who.address
    assert body["roles"] == []
    assert len(body["access_token"]) >= 32
    assert dt.datetime.fromisoformat(body["expires_at"]) <= dt.datetime.now(dt.UTC) + 10 * MINUTE
    me = http.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {"address": who.address, "roles": []}
    assert rows(instance, *SIGN_IN_TABLES) == {"accounts": 1, "auth_sessions": 1}
    assert spent_nonces(instance) == 1


def test_sign_in_refuses_reused_nonce(instance: Instance, http: httpx.Client, chain: Chain) -> None:
    who = ApiUser(http, wallet(chain))
    message = sign_in_message(who)
    signature = who.sign(message)
    assert open_session(http, message, signature).status_code == 201
    before = rows(instance, *SIGN_IN_TABLES)

    error_of(open_session(http, message, signature), 401, "invalid_sign_in")

    assert rows(instance, *SIGN_IN_TABLES) == before


def test_sign_in_refuses_signature_by_another_key(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    who, impostor = ApiUser(http, wallet(chain)), ApiUser(http, wallet(chain))
    message = sign_in_message(who)

    message_text = error_of(
        open_session(http, message, impostor.sign(message)), 401, "invalid_sign_in"
    )

    assert "signature" in message_text
    assert rows(instance, *SIGN_IN_TABLES) == {"accounts": 0, "auth_sessions": 0}
    assert spent_nonces(instance) == 0


def test_sign_in_refuses_malformed_message(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    who = ApiUser(http, wallet(chain))
    good = sign_in_message(who)
    for message in (
        "let me in",
        good.replace(who.address, who.address.lower()),
        good.replace("Version: 1", "Version: 2"),
        good.replace("\nURI: ", "\nURL: "),
    ):
        error_of(open_session(http, message, who.sign(message)), 401, "invalid_sign_in")
    assert rows(instance, *SIGN_IN_TABLES) == {"accounts": 0, "auth_sessions": 0}


def test_sign_in_refuses_malformed_signature(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    who = ApiUser(http, wallet(chain))
    message = sign_in_message(who)
    for signature in ("", "0xzz", "0x1234", "0x" + "00" * 65, "0x" + "11" * 64 + "1b"):
        # today all but "0xzz" end in a 500: recover_signer lets eth_keys' errors escape
        error_of(open_session(http, message, signature), 401, "invalid_sign_in")
    assert rows(instance, *SIGN_IN_TABLES) == {"accounts": 0, "auth_sessions": 0}


def test_me_without_bearer_is_unauthorized(instance: Instance, http: httpx.Client) -> None:
    error_of(http.get("/v1/me"), 401, "unauthorized")
    error_of(
        http.get("/v1/me", headers={"Authorization": "Basic dXNlcjpwdw=="}), 401, "unauthorized"
    )


def test_me_with_garbage_bearer_is_invalid_token(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    user(http, chain)  # a real session exists; the garbage token is not it
    error_of(
        http.get("/v1/me", headers={"Authorization": "Bearer not-a-token"}), 401, "invalid_token"
    )


# --- roles ---


def test_take_role_refuses_roles_that_are_not_self_service(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    who = user(http, chain)
    before = rows(instance, AccountRole)
    for role in ("reviewer", "operator"):
        refused(
            403, "role_not_self_service", lambda r=role: who.post("/v1/me/roles", json={"role": r})
        )
    refused(422, "invalid_input", lambda: who.post("/v1/me/roles", json={"role": "admin"}))
    assert rows(instance, AccountRole) == before
    assert who.get("/v1/me")["roles"] == []


def test_take_role_grants_self_service_roles_once(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    who = user(http, chain, "buyer", "annotator", "auditor", "buyer")
    assert who.get("/v1/me")["roles"] == ["annotator", "auditor", "buyer"]
    assert rows(instance, AccountRole) == {"account_roles": 3}


def test_create_dataset_refuses_annotator(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    for who in (user(http, chain, "annotator"), user(http, chain)):
        refused(403, "missing_role", lambda w=who: create_dataset(w, chain))
    assert rows(instance, Dataset) == {"datasets": 0}


def test_annotator_endpoints_refuse_buyer(market: Market) -> None:
    buyer, item = market.buyer, market.items["img-0"]
    before = rows(market.instance, Label)
    for call in (
        lambda: buyer.get(f"{market.path}/next-item"),
        lambda: label(buyer, item, "cat"),
        lambda: buyer.get("/v1/me/labels"),
        lambda: buyer.get("/v1/me/earnings"),
        lambda: buyer.get("/v1/me/claim"),
    ):
        refused(403, "missing_role", call)
    assert rows(market.instance, Label) == before


def test_review_endpoints_refuse_account_without_reviewer_role(
    market: Market, http: httpx.Client, chain: Chain
) -> None:
    created = label(market.annotator, market.items["img-0"], "cat")
    stranger = user(http, chain, "annotator", "auditor")  # nobody appointed them
    refused(403, "missing_role", lambda: stranger.get("/v1/reviews/queue"))
    refused(
        403,
        "missing_role",
        lambda: stranger.post(f"/v1/labels/{created['id']}/review", json={"verdict": "accept"}),
    )
    assert stored_label(market.instance, created["id"]).status == "pending"


def test_review_refuses_reviewer_not_appointed_to_the_dataset(
    market: Market, http: httpx.Client, chain: Chain
) -> None:
    other = create_dataset(market.buyer, chain, name="Other pets")
    upload(market.buyer, other["id"], [{"id": "x", "data": 1}])
    fund(chain, market.buyer, other)
    created = label(market.annotator, item_ids(market.instance, other["id"])["x"], "dog")

    refused(
        403,
        "not_appointed_reviewer",
        lambda: market.reviewer.post(
            f"/v1/labels/{created['id']}/review", json={"verdict": "accept"}
        ),
    )

    stored = stored_label(market.instance, created["id"])
    assert (stored.status, stored.decided_at, stored.reviewer) == ("pending", None, None)
    assert market.reviewer.get("/v1/reviews/queue") == []  # only the dataset they review


def test_review_refuses_reviewer_reviewing_own_label(market: Market) -> None:
    market.reviewer.post("/v1/me/roles", json={"role": "annotator"})
    created = label(market.reviewer, market.items["img-0"], "cat")
    refused(
        403,
        "conflict_of_interest",
        lambda: market.reviewer.post(
            f"/v1/labels/{created['id']}/review", json={"verdict": "accept"}
        ),
    )
    assert stored_label(market.instance, created["id"]).status == "pending"


def test_settle_refuses_non_operator(instance: Instance, http: httpx.Client, chain: Chain) -> None:
    for who in (user(http, chain, "buyer", "annotator", "auditor"), user(http, chain)):
        refused(403, "missing_role", lambda w=who: w.post("/v1/epochs"))
    assert rows(instance, Epoch) == {"epochs": 0}
    assert chain.ledger.functions.acceptedEpoch().call() == 0
    assert chain.ledger.functions.pendingEpoch().call()[2] == 0


def test_settle_by_operator_with_nothing_payable_posts_nothing(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    operator = ApiUser(http, chain.operator).sign_in()
    assert "operator" in operator.get("/v1/me")["roles"]
    assert operator.post("/v1/epochs")["epoch"] is None
    assert rows(instance, Epoch) == {"epochs": 0}


def test_auditor_endpoints_refuse_non_auditor(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    who = user(http, chain, "buyer", "annotator")
    proof = {
        "epoch": 1,
        "account": who.address,
        "token": chain.dusd.address,
        "cumulative_payment": 1,
        "cumulative_reward": 1,
    }
    for call in (
        lambda: who.get("/v1/epochs"),
        lambda: who.get("/v1/epochs/1"),
        lambda: who.get("/v1/epochs/1/payout-tree"),
        lambda: who.get("/v1/epochs/1/label-tree"),
        lambda: who.get("/v1/epochs/1/manifest"),
        lambda: who.get("/v1/epochs/current"),
        lambda: who.post("/v1/audit/proofs", json=proof | {"proof": []}),
    ):
        refused(403, "missing_role", call)
    auditor = user(http, chain, "auditor")
    assert auditor.get("/v1/epochs") == []
    refused(404, "epoch_not_found", lambda: auditor.get("/v1/epochs/1"))


# --- datasets ---


def test_create_dataset_refuses_token_not_on_allowlist(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer = user(http, chain, "buyer")
    for token in (chain.ledger.address, "0x" + "12" * 20):
        refused(
            422,
            "payment_token_not_allowed",
            lambda t=token: create_dataset(buyer, chain, payment_token=t),
        )
    refused(422, "invalid_input", lambda: create_dataset(buyer, chain, payment_token="0x1234"))
    assert rows(instance, Dataset) == {"datasets": 0}


def test_create_dataset_accepts_allowed_token_in_any_case(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer = user(http, chain, "buyer")
    created = create_dataset(buyer, chain, payment_token=chain.dusd.address.lower())
    assert created["payment_token"] == chain.dusd.address
    assert created["status"] == "awaiting_funds"


def test_create_dataset_refuses_duplicate_classes(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer = user(http, chain, "buyer")
    for classes in (["cat", "cat"], ["cat", " cat "], ["cat", ""], []):
        refused(
            422, "invalid_input", lambda c=classes: create_dataset(buyer, chain, label_classes=c)
        )
    assert rows(instance, Dataset) == {"datasets": 0}


def test_create_dataset_refuses_nothing_payable(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer = user(http, chain, "buyer")
    refused(
        422,
        "nothing_payable",
        lambda: create_dataset(buyer, chain, price_per_label=0, reward_per_label=0),
    )
    assert rows(instance, Dataset) == {"datasets": 0}


@pytest.mark.parametrize("field", ["price_per_label", "reward_per_label"])
def test_create_dataset_refuses_amount_outside_uint256(
    instance: Instance, http: httpx.Client, chain: Chain, field: str
) -> None:
    buyer = user(http, chain, "buyer")
    for amount in (-1, 2**256, 2**300):
        error = refused(
            422, "invalid_input", lambda a=amount: create_dataset(buyer, chain, **{field: a})
        )
        assert field in error.message
    assert rows(instance, Dataset) == {"datasets": 0}


def test_create_dataset_refuses_amount_that_is_not_an_integer(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    # Money is integer base units end to end: JSON true or 2.0 is a client bug, not a price.
    buyer = user(http, chain, "buyer")
    answers = {}
    for field in ("price_per_label", "reward_per_label"):
        for amount in (True, 2.0, 1.5, "1e3"):
            response = http.post(
                "/v1/datasets",
                json=dataset_body(chain, **{field: amount}),
                headers={"Authorization": f"Bearer {buyer.token}"},
            )
            code = response.json().get("error", {}).get("code")
            answers[f"{field}={json.dumps(amount)}"] = (response.status_code, code)
    assert answers == dict.fromkeys(answers, (422, "invalid_input"))
    assert rows(instance, Dataset) == {"datasets": 0}


def test_dataset_amounts_round_trip_uint256_exactly(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer = user(http, chain, "buyer")
    price, reward = 2**255 + 1, 2**256 - 1
    created = create_dataset(buyer, chain, price_per_label=price, reward_per_label=reward)
    assert (created["price_per_label"], created["reward_per_label"]) == (price, reward)

    fetched = buyer.get(f"/v1/datasets/{created['id']}")
    assert (fetched["price_per_label"], fetched["reward_per_label"]) == (price, reward)
    listed = buyer.get("/v1/datasets")
    assert [(d["price_per_label"], d["reward_per_label"]) for d in listed] == [(price, reward)]
    raw = http.get(
        f"/v1/datasets/{created['id']}", headers={"Authorization": f"Bearer {buyer.token}"}
    )
    assert f'"price_per_label":{price}' in raw.text.replace(" ", "")
    with instance.runtime.db.unit_of_work() as session:
        stored = session.get(Dataset, created["id"])
        assert stored is not None
        assert (stored.price_per_label, stored.reward_per_label) == (price, reward)


def test_upload_items_refuses_another_buyer(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    owner, other = user(http, chain, "buyer"), user(http, chain, "buyer")
    dataset = create_dataset(owner, chain)
    refused(403, "not_dataset_buyer", lambda: upload(other, dataset["id"], ITEMS))
    refused(
        403,
        "not_dataset_buyer",
        lambda: other.post(
            f"/v1/datasets/{dataset['id']}/reviewers", json={"address": other.address}
        ),
    )
    refused(
        403,
        "not_dataset_buyer",
        lambda: other.post(
            f"/v1/datasets/{dataset['id']}/gold", json=[{"item_id": "img-0", "label": "cat"}]
        ),
    )
    assert rows(instance, Item, DatasetReviewer) == {"items": 0, "dataset_reviewers": 0}


def test_upload_items_refuses_duplicate_id_within_the_upload(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer = user(http, chain, "buyer")
    dataset = create_dataset(buyer, chain)
    records = [{"id": "a", "data": 1}, {"id": "b", "data": 2}, {"id": "a", "data": 3}]
    error = refused(409, "duplicate_item", lambda: upload(buyer, dataset["id"], records))
    assert "'a'" in error.message
    jsonl = "\n".join(json.dumps(r) for r in records)
    refused(409, "duplicate_item", lambda: upload_jsonl(buyer, dataset["id"], jsonl))
    assert rows(instance, Item) == {"items": 0}


def test_upload_items_refuses_id_clashing_with_an_existing_item(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer = user(http, chain, "buyer")
    dataset = create_dataset(buyer, chain)
    assert upload(buyer, dataset["id"], [{"id": "a", "data": 1}, {"id": "b", "data": 2}]) == {
        "created": 2,
        "gold": 0,
    }
    clashing = [{"id": "c", "data": 3}, {"id": "b", "data": 4}, {"id": "d", "data": 5}]

    error = refused(409, "duplicate_item", lambda: upload(buyer, dataset["id"], clashing))

    assert "'b'" in error.message
    assert set(item_ids(instance, dataset["id"])) == {"a", "b"}  # neither c nor d
    assert buyer.get(f"/v1/datasets/{dataset['id']}")["item_count"] == 2


def test_upload_items_refuses_invalid_json(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer = user(http, chain, "buyer")
    dataset = create_dataset(buyer, chain)
    path = f"/v1/datasets/{dataset['id']}/items"
    headers = {"Content-Type": "application/json"}
    refused(400, "bad_request", lambda: buyer.post(path, content=b'[{"id": "a",', headers=headers))
    refused(400, "bad_request", lambda: buyer.post(path, content=b"\xff\xfe", headers=headers))
    refused(422, "invalid_input", lambda: buyer.post(path, json={"id": "a", "data": 1}))
    refused(422, "invalid_input", lambda: upload(buyer, dataset["id"], []))
    error = refused(422, "invalid_input", lambda: upload(buyer, dataset["id"], [{"id": "a"}]))
    assert "item 0" in error.message
    assert rows(instance, Item) == {"items": 0}


def test_upload_items_jsonl_error_names_the_line(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer = user(http, chain, "buyer")
    dataset = create_dataset(buyer, chain)
    good = json.dumps({"id": "a", "data": 1})

    not_json = refused(
        400, "bad_request", lambda: upload_jsonl(buyer, dataset["id"], f"{good}\n{{oops\n")
    )
    assert "line 2" in not_json.message
    # blank lines are skipped but still counted
    no_data = refused(
        422,
        "invalid_input",
        lambda: upload_jsonl(buyer, dataset["id"], f'{good}\n\n{{"id": "b"}}\n'),
    )
    assert "line 3" in no_data.message
    assert "data" in no_data.message
    assert rows(instance, Item) == {"items": 0}


def test_upload_items_jsonl_keeps_line_separators_inside_strings(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    # JSON allows U+2028, U+2029 and U+0085 unescaped inside strings; JSONL splits on \n only
    buyer = user(http, chain, "buyer")
    dataset = create_dataset(buyer, chain)
    records = [
        {"id": "a", "data": {"caption": "first\u2028second"}},
        {"id": "b", "data": {"caption": "para\u2029graph\u0085next"}},
    ]
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in records)

    assert upload_jsonl(buyer, dataset["id"], text) == {"created": 2, "gold": 0}

    with instance.runtime.db.unit_of_work() as session:
        stored = session.scalars(select(Item).order_by(Item.external_id)).all()
        found = session.get(Dataset, dataset["id"])
        assert found is not None
        opened = [
            (i.external_id, item_data(instance.runtime.vault, found, i.external_id, i.sealed_data))
            for i in stored
        ]
        assert opened == [(r["id"], r["data"]) for r in records]


def test_upload_items_refuses_gold_outside_schema(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer = user(http, chain, "buyer")
    dataset = create_dataset(buyer, chain)
    records = [{"id": "a", "data": 1, "gold": "cat"}, {"id": "b", "data": 2, "gold": "horse"}]
    error = refused(422, "label_outside_schema", lambda: upload(buyer, dataset["id"], records))
    assert "'horse'" in error.message
    assert rows(instance, Item) == {"items": 0}


def test_set_gold_refuses_label_outside_schema_or_unknown_item(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer = user(http, chain, "buyer")
    dataset = create_dataset(buyer, chain)
    upload(buyer, dataset["id"], [{"id": "a", "data": 1}, {"id": "b", "data": 2}])
    path = f"/v1/datasets/{dataset['id']}/gold"

    refused(
        422,
        "label_outside_schema",
        lambda: buyer.post(
            path, json=[{"item_id": "a", "label": "cat"}, {"item_id": "b", "label": "cow"}]
        ),
    )
    refused(
        404,
        "unknown_item",
        lambda: buyer.post(
            path, json=[{"item_id": "a", "label": "cat"}, {"item_id": "z", "label": "dog"}]
        ),
    )
    refused(422, "invalid_input", lambda: buyer.post(path, json=[]))
    with instance.runtime.db.unit_of_work() as session:
        assert session.scalars(select(Item.gold_label)).all() == [None, None]


def test_dataset_of_another_id_is_not_found(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer = user(http, chain, "buyer")
    refused(404, "dataset_not_found", lambda: buyer.get("/v1/datasets/999"))
    refused(404, "dataset_not_found", lambda: upload(buyer, 999, ITEMS))
    assert rows(instance, Item) == {"items": 0}


# --- labels ---


def test_submit_label_refuses_dataset_not_open(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer, annotator = user(http, chain, "buyer"), user(http, chain, "annotator")
    dataset = create_dataset(buyer, chain)
    upload(buyer, dataset["id"], ITEMS)
    item = item_ids(instance, dataset["id"])["img-0"]

    refused(409, "dataset_not_open", lambda: label(annotator, item, "cat"))
    refused(
        409, "dataset_not_open", lambda: annotator.get(f"/v1/datasets/{dataset['id']}/next-item")
    )

    assert rows(instance, Label) == {"labels": 0}


def test_submit_label_refuses_dataset_the_buyer_is_closing(market: Market, chain: Chain) -> None:
    dataset_id = int(market.dataset["chain"]["dataset_id"], 16)
    chain.send(chain.ledger.functions.requestClose(dataset_id), market.buyer.wallet)
    wait_until(
        "the mirror to see the close", lambda: market.buyer.get(market.path)["status"] == "closing"
    )

    refused(409, "dataset_not_open", lambda: label(market.annotator, market.items["img-0"], "cat"))

    assert rows(market.instance, Label) == {"labels": 0}


def test_submit_label_refuses_label_outside_schema(market: Market) -> None:
    error = refused(
        422, "label_outside_schema", lambda: label(market.annotator, market.items["img-0"], "horse")
    )
    assert "'horse'" in error.message
    assert rows(market.instance, Label) == {"labels": 0}


def test_submit_label_refuses_unknown_item(market: Market) -> None:
    refused(404, "unknown_item", lambda: label(market.annotator, 10**9, "cat"))
    assert rows(market.instance, Label) == {"labels": 0}


def test_submit_label_refuses_second_label_on_the_same_item(market: Market) -> None:
    item = market.items["img-0"]
    label(market.annotator, item, "cat")
    before = rows(market.instance, Label)

    refused(409, "duplicate_label", lambda: label(market.annotator, item, "dog"))

    assert rows(market.instance, Label) == before == {"labels": 1}
    with market.instance.runtime.db.unit_of_work() as session:
        assert session.get(Item, item).places_taken == 1  # type: ignore[union-attr]


def test_submit_label_refuses_buyer_labelling_own_dataset(market: Market) -> None:
    market.buyer.post("/v1/me/roles", json={"role": "annotator"})
    refused(403, "conflict_of_interest", lambda: label(market.buyer, market.items["img-0"], "cat"))
    refused(403, "conflict_of_interest", lambda: market.buyer.get(f"{market.path}/next-item"))
    assert rows(market.instance, Label) == {"labels": 0}


def test_label_on_gold_item_is_verified_when_right_and_rejected_when_wrong(
    market: Market, http: httpx.Client, chain: Chain
) -> None:
    right = label(market.annotator, market.items["gold-cat"], "cat")
    assert right["status"] == "verified"
    assert right["method"] == "gold"
    assert (right["price"], right["reward"], right["reason"]) == (PRICE, REWARD, None)
    assert right["decided_at"] is not None

    wrong = label(user(http, chain, "annotator"), market.items["gold-cat"], "dog")
    assert wrong["status"] == "rejected"
    assert wrong["method"] == "gold"
    assert wrong["reason"] == GOLD_MISMATCH
    assert (wrong["price"], wrong["reward"]) == (None, None)
    # gold-graded labels never reach the reviewer
    assert market.reviewer.get("/v1/reviews/queue") == []


def test_gold_answers_fold_into_the_salt_until_funded_then_are_committed(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer = user(http, chain, "buyer")
    dataset = create_dataset(buyer, chain)
    path = f"/v1/datasets/{dataset['id']}"
    assert upload(buyer, dataset["id"], ITEMS[:5]) == {"created": 5, "gold": 0}
    before = buyer.get(path)["chain"]

    # Before funding, gold answers may still be added: the terms, so the salt and ledger id,
    # follow them.
    assert buyer.post(f"{path}/gold", json=[{"item_id": "img-0", "label": "dog"}]) == {
        "created": 0,
        "gold": 1,
    }
    sealed = buyer.get(path)["chain"]
    assert sealed["salt"] != before["salt"]
    assert sealed["dataset_id"] != before["dataset_id"]
    with instance.runtime.db.unit_of_work() as session:
        stored = session.scalars(select(Dataset).where(Dataset.id == dataset["id"])).one()
        terms = json.loads(stored.terms)
        assert "0x" + keccak(stored.terms.encode()).hex() == sealed["salt"]
        assert stored.gold_document is not None
        assert terms["goldCommitment"] == "0x" + keccak(stored.gold_document.encode()).hex()
        assert terms["pricePerLabel"] == str(PRICE)

    fund(chain, buyer, buyer.get(path))
    before_items = rows(instance, Item)

    # On the ledger, the buyer's createAndFund fixed the commitment: no more gold.
    error = refused(
        409,
        "gold_committed",
        lambda: buyer.post(f"{path}/gold", json=[{"item_id": "img-1", "label": "cat"}]),
    )
    assert "cannot change" in error.message
    refused(
        409,
        "gold_committed",
        lambda: upload(buyer, dataset["id"], [{"id": "late", "data": 1, "gold": "cat"}]),
    )
    assert rows(instance, Item) == before_items
    assert buyer.get(path)["chain"]["salt"] == sealed["salt"]
    # Items without gold are still welcome.
    assert upload(buyer, dataset["id"], [{"id": "late", "data": 1}]) == {"created": 1, "gold": 0}


def test_review_reject_without_reason_is_refused(market: Market) -> None:
    created = label(market.annotator, market.items["img-0"], "cat")
    review = f"/v1/labels/{created['id']}/review"
    for body in ({"verdict": "reject"}, {"verdict": "reject", "reason": "   "}):
        refused(422, "reason_required", lambda b=body: market.reviewer.post(review, json=b))
    refused(422, "invalid_input", lambda: market.reviewer.post(review, json={"verdict": "maybe"}))

    stored = stored_label(market.instance, created["id"])
    assert (stored.status, stored.reviewer, stored.decided_at) == ("pending", None, None)

    rejected = market.reviewer.post(review, json={"verdict": "reject", "reason": " a dog "})
    assert (rejected["status"], rejected["method"], rejected["reason"]) == (
        "rejected",
        "review",
        "a dog",
    )
    assert rejected["reviewer"] == market.reviewer.address


def test_review_of_a_decided_label_is_refused(market: Market) -> None:
    created = label(market.annotator, market.items["img-0"], "cat")
    review = f"/v1/labels/{created['id']}/review"
    accepted = market.reviewer.post(review, json={"verdict": "accept"})
    assert (accepted["status"], accepted["method"], accepted["price"]) == (
        "verified",
        "review",
        PRICE,
    )

    for body in ({"verdict": "accept"}, {"verdict": "reject", "reason": "changed my mind"}):
        refused(409, "label_already_decided", lambda b=body: market.reviewer.post(review, json=b))
    gold = label(market.annotator, market.items["gold-dog"], "dog")
    refused(
        409,
        "label_already_decided",
        lambda: market.reviewer.post(
            f"/v1/labels/{gold['id']}/review", json={"verdict": "reject", "reason": "no"}
        ),
    )
    refused(
        404,
        "label_not_found",
        lambda: market.reviewer.post("/v1/labels/999999/review", json={"verdict": "accept"}),
    )

    stored = stored_label(market.instance, created["id"])
    assert (stored.status, stored.reason, stored.price) == ("verified", None, PRICE)


def test_my_labels_and_earnings_show_every_decision(market: Market, chain: Chain) -> None:
    worker = market.annotator
    verified = label(worker, market.items["gold-cat"], "cat")
    rejected = label(worker, market.items["gold-dog"], "bird")
    pending = label(worker, market.items["img-0"], "dog")

    mine = {entry["id"]: entry for entry in worker.get("/v1/me/labels")}
    assert {i: e["status"] for i, e in mine.items()} == {
        verified["id"]: "verified",
        rejected["id"]: "rejected",
        pending["id"]: "pending",
    }
    assert mine[rejected["id"]]["reason"] == GOLD_MISMATCH
    assert mine[verified["id"]]["external_id"] == "gold-cat"
    assert [e["id"] for e in worker.get("/v1/me/labels", params={"status": "rejected"})] == [
        rejected["id"]
    ]
    dusd, label_token = chain.dusd.address, chain.ledger.address
    assert worker.get("/v1/me/earnings") == {
        "pending": 1,
        "verified": 1,
        "rejected": 1,
        "paid_labels": 0,
        "earned": {dusd: PRICE, label_token: REWARD},
        "unsettled": {dusd: PRICE, label_token: REWARD},
    }

    market.reviewer.post(f"/v1/labels/{pending['id']}/review", json={"verdict": "accept"})

    earnings = worker.get("/v1/me/earnings")
    assert (earnings["pending"], earnings["verified"], earnings["rejected"]) == (0, 2, 1)
    assert earnings["earned"] == {dusd: 2 * PRICE, label_token: 2 * REWARD}
    delivered = market.buyer.get(f"{market.path}/labels")
    assert [d["id"] for d in delivered] == [verified["id"], pending["id"]]
    # the buyer's download is the annotator's view plus each label as its kind's JSON
    assert [(d.pop("answer"), d.pop("corrected_answer")) for d in delivered] == [
        ("cat", None),
        ("dog", None),
    ]
    assert delivered == worker.get("/v1/me/labels", params={"status": "verified"})


# --- OpenAPI ---


def test_openapi_documents_the_error_response_on_every_route(
    instance: Instance, http: httpx.Client
) -> None:
    document = http.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert schemas["ErrorResponse"]["properties"]["error"]["$ref"] == (
        "#/components/schemas/ErrorBody"
    )
    assert set(schemas["ErrorBody"]["required"]) == {"code", "message"}

    operations = [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) >= 20
    for method, path, operation in operations:
        for status in ("400", "401", "403", "404", "409", "422"):
            response = operation["responses"].get(status)
            assert response is not None, f"{method.upper()} {path} does not document {status}"
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path, status)


# --- the ledger: datasets on chain, closing, epochs and claims ---


def send_call(chain: Chain, wallet: LocalAccount, call: dict[str, Any]) -> Any:
    """Sends a call the API prepared (`to`, `data`) from the wallet, as a buyer's wallet does."""
    w3 = chain.client.w3
    tx: dict[str, Any] = {
        "from": wallet.address,
        "to": call["to"],
        "data": call["data"],
        "nonce": w3.eth.get_transaction_count(wallet.address, "pending"),
        "chainId": chain.client.chain_id,
    }
    tx["gas"] = w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
    tx["maxFeePerGas"] = int(w3.eth.get_block("latest")["baseFeePerGas"]) * 2 + 10**9
    tx["maxPriorityFeePerGas"] = 10**9
    raw = bytes(wallet.sign_transaction(tx).raw_transaction)
    return chain.client.wait(chain.client.broadcast(raw))


def test_dataset_shows_how_to_fund_it_and_then_its_state_on_the_ledger(
    market: Market, chain: Chain
) -> None:
    created = market.dataset["chain"]
    assert created["ledger"] == chain.ledger.address
    assert created["token_index"] == chain.dusd_index
    expected_id = chain.ledger.functions.datasetIdOf(
        market.buyer.address, HexBytes(created["salt"])
    ).call()
    assert int(created["dataset_id"], 16) == expected_id
    assert (created["status"], created["fee_bps"], created["available"]) == (None, None, 0)

    funded = market.buyer.get(market.path)

    assert funded["status"] == "open"
    assert funded["chain"]["status"] == "open"
    assert funded["chain"]["fee_bps"] == 0
    assert funded["chain"]["funded"] == funded["chain"]["available"] == FUNDS
    assert funded["chain"]["available"] == chain.dataset(created["dataset_id"])[5]


def test_close_steps_lead_the_buyer_through_request_and_finalize(
    market: Market, chain: Chain, http: httpx.Client
) -> None:
    buyer, path = market.buyer, f"{market.path}/close"
    refused(403, "not_dataset_buyer", lambda: user(http, chain, "buyer").get(path))

    first = buyer.get(path)
    assert first["next"]["function"] == "requestClose"
    assert first["next"]["to"] == chain.ledger.address
    receipt = send_call(chain, buyer.wallet, first["next"])
    requested_at = int(chain.client.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
    wait_until(
        "the mirror to see the request", lambda: buyer.get(market.path)["status"] == "closing"
    )

    waiting = buyer.get(path)
    assert waiting["next"] is None
    assert waiting["due_at"] == requested_at + 7 * 24 * 3600
    assert waiting["due_at"] == buyer.get(market.path)["chain"]["close_due_at"]
    chain.warp_to(waiting["due_at"])

    due = buyer.get(path)
    assert due["next"]["function"] == "finalizeClose"
    before = chain.dusd.functions.balanceOf(buyer.address).call()
    send_call(chain, buyer.wallet, due["next"])
    wait_until("the mirror to see the close", lambda: buyer.get(market.path)["status"] == "closed")

    closed = buyer.get(market.path)["chain"]
    assert (closed["refunded"], closed["available"]) == (FUNDS, 0)
    assert chain.dusd.functions.balanceOf(buyer.address).call() == before + FUNDS
    assert buyer.get(path)["next"] is None


def test_close_steps_refuse_a_dataset_not_on_the_ledger(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer = user(http, chain, "buyer")
    dataset = create_dataset(buyer, chain)
    refused(409, "dataset_not_closable", lambda: buyer.get(f"/v1/datasets/{dataset['id']}/close"))


@pytest.fixture
def timelocked_market(
    timelocked_instance: Instance, timelocked_chain: Chain
) -> Iterator[tuple[Market, Chain, httpx.Client]]:
    chain = timelocked_chain
    with httpx.Client(base_url=timelocked_instance.url, timeout=30) as http:
        buyer = user(http, chain, "buyer")
        dataset = create_dataset(buyer, chain, verification=REVEALED_AT_ONCE)
        upload(buyer, dataset["id"], ITEMS)
        fund(chain, buyer, dataset)
        yield (
            Market(
                instance=timelocked_instance,
                buyer=buyer,
                annotator=user(http, chain, "annotator"),
                reviewer=user(http, chain),
                dataset=dataset,
                items=item_ids(timelocked_instance, dataset["id"]),
            ),
            chain,
            http,
        )


def test_claims_are_unavailable_until_the_epoch_is_accepted(
    timelocked_market: tuple[Market, Chain, httpx.Client],
) -> None:
    market, chain, http = timelocked_market
    worker = market.annotator
    label(worker, market.items["gold-cat"], "cat")
    operator = ApiUser(http, chain.operator).sign_in()
    auditor = user(http, chain, "auditor")

    proposed = operator.post("/v1/epochs")

    epoch = proposed["epoch"]
    assert (epoch["number"], epoch["status"], epoch["claimable"]) == (1, "proposed", False)
    assert epoch["acceptable_at"] == chain.ledger.functions.pendingEpoch().call()[2] + 24 * 3600
    assert "claimable once accepted" in proposed["message"]
    refusal = refused(404, "nothing_to_claim", lambda: worker.get("/v1/me/claim"))
    assert str(epoch["acceptable_at"]) in refusal.message
    now = auditor.get("/v1/epochs/current")
    assert now["accepted"] is None
    assert now["pending"]["number"] == 1
    # settling again inside the timelock changes nothing
    again = operator.post("/v1/epochs")
    assert again["epoch"]["status"] == "proposed"
    assert chain.ledger.functions.acceptedEpoch().call() == 0

    chain.warp_to(epoch["acceptable_at"])
    accepted = operator.post("/v1/epochs")

    assert accepted["epoch"]["status"] == "accepted"
    assert accepted["epoch"]["claimable"] is True
    bundle = worker.get("/v1/me/claim")
    assert bundle["epoch"] == 1
    assert bundle["pending"] is None
    assert bundle["root"] == "0x" + bytes(chain.ledger.functions.payoutRoot().call()).hex()
    [entitlement] = bundle["entitlements"]
    assert (entitlement["cumulative_payment"], entitlement["cumulative_reward"]) == (PRICE, REWARD)
    assert entitlement["token_index"] == chain.dusd_index
    verdict = auditor.post(
        "/v1/audit/proofs",
        json={
            "epoch": 1,
            "account": worker.address,
            "token": chain.dusd.address,
            "cumulative_payment": PRICE,
            "cumulative_reward": REWARD,
            "proof": entitlement["proof"],
        },
    )
    assert (verdict["valid"], verdict["accepted"]) == (True, True)
    manifest = http.get(
        "/v1/epochs/1/manifest", headers={"Authorization": f"Bearer {auditor.token}"}
    )
    assert "0x" + keccak(manifest.content).hex() == accepted["epoch"]["content_hash"]
    labels = auditor.get("/v1/epochs/1/label-tree")
    assert labels["tree"][0] == accepted["epoch"]["label_root"]


# --- the mirror's own state ---


def test_mirror_status_metrics_and_reconcile_on_demand(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    """The operator sees how far the mirror is and what reconciliation found; anyone reads
    confirmed and pending balances; a reconcile on demand is operator-only and finds no drift."""
    buyer = user(http, chain, "buyer")
    fund(chain, buyer, create_dataset(buyer, chain))
    head = chain.head()[0]
    wait_until(
        "the mirror to reach the head",
        lambda: http.get("/v1/mirror/status").json()["cursor_block"] == head,
    )

    balances = http.get(f"/v1/balances/{chain.deployment.ledger}").json()
    dusd_row = next(row for row in balances["balances"] if row["token"] == chain.dusd.address)
    assert dusd_row["balance"] == dusd_row["pending_balance"] == FUNDS
    assert (balances["confirmations"], balances["mirrored_block"]) == (0, head)

    with pytest.raises(ApiError) as refused:
        buyer.post("/v1/mirror/reconcile")
    assert refused.value.status == 403
    operator = ApiUser(http, chain.operator).sign_in()
    report = operator.post("/v1/mirror/reconcile")
    assert report["drift_count"] == 0
    assert report["checked"] >= 3  # the ledger's and the buyer's dUSD, supplies, the dataset
    assert report["block_number"] >= head

    status = http.get("/v1/mirror/status").json()
    assert status["status"] == "ok"
    assert status["last_reconciliation"]["checked"] == report["checked"]
    assert status["max_reorg_depth"] == 64
    metrics = http.get("/metrics").text
    assert "label_ledger_mirror_drift_values 0\n" in metrics
    assert f"label_ledger_mirror_reconciled_block {report['block_number']}\n" in metrics
