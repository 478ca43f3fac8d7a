"""A JSON-RPC proxy for tests that injects the faults real nodes and hosted providers show.

`RpcProxy(upstream_url)` listens on a free loopback port and forwards single and batch JSON-RPC
POSTs to the upstream node. Tests point a client at `.url` and set `.faults`, a list of `Fault`
rules, at any time while it runs. For each JSON-RPC call the first rule that matches its method
and fires decides what happens:

- `delay(s)`: answer late; `hang(s)`: answer never (the connection closes after `s`);
- `http_error(status, retry_after)`: a 429 or 5xx for the whole HTTP request;
- `drop()`: close the connection without an answer; `reset()`: abort it with a TCP RST;
- `rpc_error(code, message)`: a JSON-RPC error in place of that call's answer;
- `truncate_logs(n)`: an eth_getLogs answer with more than n entries silently cut to n;
- `max_logs(n)`: an eth_getLogs answer with more than n entries refused as too many results;
- `max_range(n)`: an eth_getLogs query over more than n blocks refused as too large a range.

A rule fires for the next `times` matching calls (forever when None), each time with probability
`probability` drawn from the proxy's seeded `random.Random`. `requests` counts calls per method and
`fired` counts faults per action, so a test can assert that its faults really happened.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import requests

_BEFORE = frozenset({"delay", "hang", "http_error", "drop", "reset", "rpc_error", "max_range"})
_LOG_ACTIONS = frozenset({"truncate_logs", "max_logs"})  # decided on the upstream's answer


@dataclass
class Fault:
    """One rule: what to do (`action` and its arguments) to which calls, how often."""

    action: str
    method: str | None = None  # None matches every method
    times: int | None = None  # fire for the next `times` matching calls; None: no limit
    probability: float = 1.0
    seconds: float = 0.0  # delay, hang
    status: int = 0  # http_error
    retry_after: float | None = None  # http_error: sent as the Retry-After header
    code: int = 0  # rpc_error
    message: str = ""  # rpc_error
    limit: int = 0  # truncate_logs, max_logs
    fired: int = 0  # how many times this rule fired

    def applies(self, call: dict[str, Any], answer: Any = None) -> bool:
        method = call.get("method")
        if self.method is not None and self.method != method:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        if self.action in _LOG_ACTIONS:
            return method == "eth_getLogs" and isinstance(answer, list) and len(answer) > self.limit
        if self.action == "max_range":
            return method == "eth_getLogs" and _block_span(call) > self.limit
        return True


def delay(seconds: float, **match: Any) -> Fault:
    return Fault("delay", seconds=seconds, **match)


def hang(seconds: float = 30.0, **match: Any) -> Fault:
    return Fault("hang", seconds=seconds, **match)


def http_error(status: int, retry_after: float | None = None, **match: Any) -> Fault:
    return Fault("http_error", status=status, retry_after=retry_after, **match)


def drop(**match: Any) -> Fault:
    return Fault("drop", **match)


def reset(**match: Any) -> Fault:
    return Fault("reset", **match)


def rpc_error(code: int, message: str, **match: Any) -> Fault:
    return Fault("rpc_error", code=code, message=message, **match)


def truncate_logs(limit: int, **match: Any) -> Fault:
    return Fault("truncate_logs", method="eth_getLogs", limit=limit, **match)


def max_logs(limit: int, **match: Any) -> Fault:
    return Fault("max_logs", method="eth_getLogs", limit=limit, **match)


def max_range(limit: int, **match: Any) -> Fault:
    message = f"block range is too large: at most {limit} blocks"
    return Fault(
        "max_range", method="eth_getLogs", limit=limit, code=-32602, message=message, **match
    )


def _block_span(call: dict[str, Any]) -> int:
    """How many blocks an eth_getLogs call asks for (0 when not given as numbers)."""
    try:
        query = call["params"][0]
        return int(query["toBlock"], 16) - int(query["fromBlock"], 16) + 1
    except (KeyError, IndexError, TypeError, ValueError):
        return 0


class _Abort(Exception):
    """End this HTTP exchange without an answer (drop, reset, hang)."""

    def __init__(self, action: str) -> None:
        super().__init__(action)
        self.action = action


class RpcProxy:
    """The fault-injecting proxy: a context manager running in a daemon thread."""

    def __init__(self, upstream_url: str, *, seed: int = 0) -> None:
        self.upstream_url = upstream_url
        self.faults: list[Fault] = []
        self.requests: Counter[str] = Counter()
        self.fired: Counter[str] = Counter()
        self._random = random.Random(seed)  # noqa: S311 (reproducible fault plans)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._local = threading.local()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> RpcProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing.set()  # wakes hanging and delayed answers
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _pick(
        self, call: dict[str, Any], stage: frozenset[str], answer: Any = None
    ) -> Fault | None:
        """The first rule of `stage` that fires for this call (counted as fired), if any."""
        with self._lock:
            for fault in self.faults:
                if fault.action not in stage or not fault.applies(call, answer):
                    continue
                if fault.probability < 1.0 and self._random.random() >= fault.probability:
                    continue
                fault.fired += 1
                self.fired[fault.action] += 1
                return fault
        return None

    def _forward(self, payload: Any) -> Any:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        response = session.post(self.upstream_url, json=payload, timeout=60)
        response.raise_for_status()
        return response.json()

    def handle(self, body: Any) -> tuple[int, dict[str, str], Any]:
        """Answers one HTTP POST body: (status, extra headers, JSON answer)."""
        calls = body if isinstance(body, list) else [body]
        answers: dict[int, Any] = {}
        forwarded: list[tuple[int, Any]] = []
        for position, call in enumerate(calls):
            method = str(call.get("method"))
            with self._lock:
                self.requests[method] += 1
            fault = self._pick(call, _BEFORE)
            if fault is None:
                forwarded.append((position, call))
            elif fault.action == "delay":
                self._closing.wait(fault.seconds)
                forwarded.append((position, call))
            elif fault.action in ("rpc_error", "max_range"):
                error = {"code": fault.code, "message": fault.message}
                answers[position] = {"jsonrpc": "2.0", "id": call.get("id"), "error": error}
            elif fault.action == "http_error":
                headers = (
                    {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
                )
                return fault.status, headers, {"error": f"HTTP {fault.status} from RpcProxy"}
            else:  # drop, reset, hang
                if fault.action == "hang":
                    self._closing.wait(fault.seconds)
                raise _Abort(fault.action)
        if forwarded:
            upstream = self._forward([call for _, call in forwarded])
            if not isinstance(upstream, list):  # the node refused the batch as a whole
                return 200, {}, upstream
            by_id = {answer.get("id"): answer for answer in upstream}
            for position, call in forwarded:
                answers[position] = self._after(call, by_id[call.get("id")])
        ordered = [answers[position] for position in range(len(calls))]
        return 200, {}, ordered if isinstance(body, list) else ordered[0]

    def _after(self, call: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        """Applies truncate_logs and max_logs to an upstream answer."""
        result = answer.get("result")
        fault = self._pick(call, _LOG_ACTIONS, result)
        if fault is None:
            return answer
        if fault.action == "truncate_logs":
            return {**answer, "result": result[: fault.limit]}
        error = {"code": -32005, "message": f"query returned more than {fault.limit} results"}
        return {"jsonrpc": "2.0", "id": answer.get("id"), "error": error}


def _handler_for(proxy: RpcProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as clients pool connections to nodes
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40ms stall

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            try:
                status, headers, answer = proxy.handle(body)
            except _Abort as abort:
                self.close_connection = True
                with contextlib.suppress(OSError):  # the client may have gone already
                    if abort.action == "reset":  # linger 0: close() sends RST, not FIN
                        linger = struct.pack("ii", 1, 0)
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                    else:
                        self.connection.shutdown(socket.SHUT_RDWR)
                return
            raw = json.dumps(answer).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: pytest shows failures, not every request

    return Handler
