"""The mirror's JSON-RPC transport: raw calls over one HTTP connection, retried, classified.

The mirror bypasses web3's request pipeline: it makes a few calls (`eth_blockNumber`,
`eth_getBlockByNumber`, `eth_getLogs`, `eth_call`) and wants their plain JSON answers fast, with
every failure sorted into what to do next:

- `RangeTooLarge`: the node refuses the block range ("more than 10000 results", "block range
  too large", a response-size cap). Not retried here: the caller shrinks the range.
- transient (timeouts, refused or dropped connections, HTTP 429 and 5xx, JSON-RPC rate limits,
  "header not found" from a node behind its peers): retried with exponential backoff and jitter,
  honouring Retry-After, up to `attempts` tries; then `ChainUnavailable`.
- anything else the node answers with an error is retried the same way: a node that keeps
  refusing a well-formed request is unavailable to us, whatever the reason.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from eth_utils.crypto import keccak

from ledger.kit.errors import ChainUnavailable
from ledger.kit.types import Bytes32Hex

logger = logging.getLogger(__name__)

MAX_BATCH = 100  # JSON-RPC requests per HTTP batch: hosted nodes cap batch sizes

# What nodes and providers say when a log query is too big. Geth, Erigon, Nethermind, Anvil and
# the hosted providers word it differently; a rate limit is told apart before these are tried.
_RANGE_PATTERNS = re.compile(
    r"more than \d+ (results|logs)|too many (results|logs|blocks)|block range|range (is )?too"
    r"|exceed(s|ed)? (the )?max(imum)? (block )?range|response size|too large|too wide"
    r"|limited to|query timeout|max results",
    re.IGNORECASE,
)
_RATE_PATTERNS = re.compile(r"rate.?limit|too many requests|throttl|capacity", re.IGNORECASE)


class RangeTooLarge(ChainUnavailable):
    """The node refused a log query as too large: ask again for fewer blocks."""

    code = "rpc_range_too_large"


class RpcFailed(ChainUnavailable):
    """A call kept failing after every retry."""

    code = "rpc_failed"


@dataclass(frozen=True, slots=True)
class BlockHeader:
    number: int
    hash: Bytes32Hex
    parent_hash: Bytes32Hex


class _Retry(Exception):
    """One try failed in a way worth another try, after at least `wait` seconds."""

    def __init__(self, reason: str, wait: float = 0.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


@dataclass
class RpcStats:
    """What the transport did: calls made, tries retried, ranges refused (for logs and tests)."""

    requests: int = 0
    retries: int = 0
    range_refusals: int = 0


class MirrorRpc:
    """Raw JSON-RPC over one keep-alive HTTP connection, with retries and backoff."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        attempts: int = 8,
        backoff_base: float = 0.25,
        backoff_max: float = 30.0,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {attempts}")
        self.url = url
        self.attempts = attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.stats = RpcStats()
        self._sleep = sleep
        self._timeout = timeout
        self._local = threading.local()  # httpx clients are not shared across threads
        self._ids = 0
        self._jitter = random.Random()  # noqa: S311 (backoff jitter, not security)
        self._stop: threading.Event | None = None

    def stop_with(self, stop: threading.Event) -> None:
        """Ends the backoff between attempts as soon as `stop` is set, with `RpcFailed` and no
        further attempt: a service asked to stop (Ctrl-C on `up`, SIGTERM to a worker) while
        its node is away stops at once instead of waiting out the retries."""
        self._stop = stop
        self._sleep = stop.wait

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(
                timeout=httpx.Timeout(self._timeout, connect=min(self._timeout, 5.0)),
                headers={"content-type": "application/json"},
            )
            self._local.client = client
        return client

    def close(self) -> None:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is not None:
            client.close()
            self._local.client = None

    # --- one HTTP round trip ------------------------------------------------------------------

    def _post(self, payload: Any) -> Any:
        self.stats.requests += 1
        try:
            response = self._client().post(self.url, content=orjson.dumps(payload))
        except httpx.TimeoutException as exc:
            raise _Retry(f"timed out ({exc.__class__.__name__})") from exc
        except httpx.TransportError as exc:
            self.close()  # the connection may be half dead: start a new one
            raise _Retry(f"connection failed ({exc.__class__.__name__}: {exc})") from exc
        if response.status_code == 429:
            raise _Retry("rate limited (HTTP 429)", _retry_after(response.headers))
        if response.status_code >= 500:
            raise _Retry(f"HTTP {response.status_code}", _retry_after(response.headers))
        if response.status_code >= 400:
            raise _Retry(f"HTTP {response.status_code}: {response.text[:200]}")
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise _Retry(f"answer is not JSON ({exc})") from exc

    def _result(self, method: str, answer: Any) -> Any:
        if not isinstance(answer, Mapping):
            raise _Retry(f"{method}: malformed answer {str(answer)[:200]}")
        error = answer.get("error")
        if error is None:
            if "result" not in answer:
                raise _Retry(f"{method}: answer without result")
            return answer["result"]
        message = str(error.get("message", error)) if isinstance(error, Mapping) else str(error)
        code = error.get("code") if isinstance(error, Mapping) else None
        if _RATE_PATTERNS.search(message) or code == 429:
            raise _Retry(f"{method}: rate limited ({message})", 1.0)
        if method == "eth_getLogs" and _RANGE_PATTERNS.search(message):
            self.stats.range_refusals += 1
            raise RangeTooLarge(f"{method}: {message}")
        raise _Retry(f"{method}: node error {code}: {message}")

    def _with_retries(self, what: str, attempt: Callable[[], Any]) -> Any:
        for n in range(1, self.attempts + 1):
            try:
                return attempt()
            except _Retry as retry:
                if n == self.attempts:
                    raise RpcFailed(
                        f"{what} failed {n} times at {self.url}, last: {retry.reason}. "
                        "Check that the node is up and reachable; the mirror will try again"
                    ) from retry
                backoff = min(self.backoff_max, self.backoff_base * 2 ** (n - 1))
                delay = max(retry.wait, backoff * (0.5 + self._jitter.random() / 2))
                self.stats.retries += 1
                logger.warning(
                    "%s: %s; retry %d/%d in %.2fs", what, retry.reason, n, self.attempts - 1, delay
                )
                self._sleep(min(delay, self.backoff_max))
                if self._stop is not None and self._stop.is_set():
                    raise RpcFailed(
                        f"{what} at {self.url}: stopped while retrying ({retry.reason})"
                    ) from retry
        raise AssertionError("unreachable")

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    # --- calls --------------------------------------------------------------------------------

    def call(self, method: str, params: Sequence[Any]) -> Any:
        def attempt() -> Any:
            payload = {"jsonrpc": "2.0", "id": self._next_id(), "method": method, "params": params}
            return self._result(method, self._post(payload))

        return self._with_retries(method, attempt)

    def batch(self, method: str, params: Sequence[Sequence[Any]]) -> list[Any]:
        """One method over many parameter lists, in HTTP batches; answers in the same order."""
        results: list[Any] = []
        for start in range(0, len(params), MAX_BATCH):
            part = params[start : start + MAX_BATCH]
            if len(part) == 1:
                results.append(self.call(method, part[0]))
                continue

            def attempt(part: Sequence[Sequence[Any]] = part) -> list[Any]:
                payload = [
                    {"jsonrpc": "2.0", "id": i, "method": method, "params": p}
                    for i, p in enumerate(part)
                ]
                answers = self._post(payload)
                if not isinstance(answers, list):  # the node refused the batch as a whole
                    self._result(method, answers)
                    raise _Retry(f"{method} batch: not a list of answers")
                by_id = {a.get("id"): a for a in answers if isinstance(a, Mapping)}
                if len(by_id) != len(part):
                    raise _Retry(f"{method} batch: {len(by_id)} answers to {len(part)} requests")
                return [self._result(method, by_id.get(i)) for i in range(len(part))]

            results.extend(self._with_retries(f"{method} batch", attempt))
        return results

    def head(self) -> int:
        return int(self.call("eth_blockNumber", []), 16)

    def headers(self, numbers: Sequence[int] | set[int]) -> dict[int, BlockHeader]:
        """Headers by number; a block the node does not have (yet) is missing from the answer."""
        wanted = sorted(set(numbers))
        blocks = self.batch("eth_getBlockByNumber", [[hex(n), False] for n in wanted])
        return {
            number: BlockHeader(
                number=number,
                hash=Bytes32Hex(block["hash"].lower()),
                parent_hash=Bytes32Hex(block["parentHash"].lower()),
            )
            for number, block in zip(wanted, blocks, strict=True)
            if block is not None
        }

    def logs(
        self, addresses: Sequence[str], topics: Sequence[str], from_block: int, to_block: int
    ) -> list[dict[str, Any]]:
        query = {
            "address": list(addresses),
            "topics": [list(topics)],
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block),
        }
        answer = self.call("eth_getLogs", [query])
        if not isinstance(answer, list):
            raise RpcFailed(f"eth_getLogs answered {str(answer)[:200]} instead of a list")
        return answer

    def eth_calls(self, calls: Sequence[tuple[str, str]], block: str | int) -> list[bytes]:
        """`eth_call`s of (contract, calldata) at one block. Named by hash (EIP-1898), every
        answer describes the same block even if the chain moves or reorganises meanwhile."""
        at: Any = hex(block) if isinstance(block, int) else {"blockHash": block}
        answers = self.batch("eth_call", [[{"to": to, "data": data}, at] for to, data in calls])
        return [bytes.fromhex(str(a).removeprefix("0x")) for a in answers]


def selector(signature: str) -> str:
    """The 4-byte function selector of `signature`, as 0x + 8 hex."""
    return "0x" + keccak(text=signature)[:4].hex()


def word(value: int | str) -> str:
    """An address or uint as one ABI word, 64 hex digits without 0x."""
    if isinstance(value, str):
        return value.lower().removeprefix("0x").rjust(64, "0")
    return f"{value:064x}"


BALANCE_OF = selector("balanceOf(address)")
TOTAL_SUPPLY = selector("totalSupply()")


def _retry_after(headers: Mapping[str, str]) -> float:
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else 0.0
    except ValueError:
        return 0.0
