"""The chain mirror: the chain's truth copied into SQL from events, never from anyone's word.

`Mirror.sync_once` reads our contracts' logs from the block after the cursor up to the head less
the confirmations, in chunks of at most `max_block_range` blocks. Each chunk is one transaction:
its logs are stored (each log once, keyed by block hash and log index, so re-reading a range never
counts anything twice), their effects applied, the blocks recorded, and the cursor moved. A crash
between chunks loses nothing and repeats nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from web3.providers import JSONBaseProvider
from web3.types import RPCEndpoint

from ledger.chain.client import ChainClient, Deployment
from ledger.kit.db import Database
from ledger.kit.errors import ChainStateMismatch, ChainUnavailable
from ledger.kit.types import Bytes32Hex, ChecksumAddress
from ledger.mirror import repository
from ledger.mirror.events import ArgValue, DecodedLog, EventDecoder
from ledger.mirror.models import ChainDataset, ChainEpoch, LedgerToken

logger = logging.getLogger(__name__)

ZERO_ADDRESS = ChecksumAddress("0x0000000000000000000000000000000000000000")
_MAX_BATCH = 100  # JSON-RPC requests per HTTP batch
BPS = 10_000


class MirrorReorgDetected(ChainStateMismatch):
    """The chain no longer holds a block the mirror has applied: its effects may be wrong."""

    code = "mirror_reorg_detected"


@dataclass(frozen=True, slots=True)
class BlockHeader:
    number: int
    hash: Bytes32Hex
    parent_hash: Bytes32Hex


class _Rpc:
    """The few raw JSON-RPC calls the mirror makes, answered as plain JSON (no web3 formatters).

    Every transport or node failure becomes `ChainUnavailable`, which the run loop backs off on.
    """

    def __init__(self, client: ChainClient) -> None:
        self._client = client

    def _result(self, method: str, response: Mapping[str, Any]) -> Any:
        if "error" in response:
            raise ChainUnavailable(
                f"{method} failed at {self._client.rpc_url}: {response['error']}"
            )
        return response.get("result")

    def call(self, method: str, params: list[Any]) -> Any:
        try:
            response = self._client.w3.provider.make_request(RPCEndpoint(method), params)
        except (OSError, ValueError) as exc:
            raise ChainUnavailable(f"{method} failed at {self._client.rpc_url}: {exc}") from exc
        return self._result(method, response)

    def batch(self, method: str, params: list[list[Any]]) -> list[Any]:
        provider = self._client.w3.provider
        if len(params) <= 1 or not isinstance(provider, JSONBaseProvider):
            return [self.call(method, p) for p in params]
        results: list[Any] = []
        # hosted nodes cap the size of a batch, so a chunk full of blocks goes in several
        for start in range(0, len(params), _MAX_BATCH):
            requests = [(RPCEndpoint(method), p) for p in params[start : start + _MAX_BATCH]]
            try:
                responses = provider.make_batch_request(requests)
            except (OSError, ValueError) as exc:
                raise ChainUnavailable(
                    f"{method} batch failed at {self._client.rpc_url}: {exc}"
                ) from exc
            if not isinstance(responses, list):  # the node refused the whole batch
                self._result(method, responses)
                raise ChainUnavailable(f"{method} batch got no answers from {self._client.rpc_url}")
            if len(responses) != len(requests):
                raise ChainUnavailable(
                    f"{method} batch: {len(responses)} answers to {len(requests)} requests"
                )
            results.extend(self._result(method, r) for r in responses)
        return results

    def head(self) -> int:
        return int(self.call("eth_blockNumber", []), 16)

    def headers(self, numbers: Iterable[int]) -> dict[int, BlockHeader]:
        wanted = sorted(set(numbers))
        blocks = self.batch("eth_getBlockByNumber", [[hex(n), False] for n in wanted])
        headers: dict[int, BlockHeader] = {}
        for number, block in zip(wanted, blocks, strict=True):
            if block is None:
                raise ChainUnavailable(
                    f"the node at {self._client.rpc_url} has no block {number}: it is behind the "
                    "mirror (or the chain was reset); retrying"
                )
            headers[number] = BlockHeader(
                number=number,
                hash=Bytes32Hex(block["hash"].lower()),
                parent_hash=Bytes32Hex(block["parentHash"].lower()),
            )
        return headers

    def logs(
        self, addresses: list[ChecksumAddress], topics: list[str], from_block: int, to_block: int
    ) -> list[dict[str, Any]]:
        query = {
            "address": addresses,
            "topics": [topics],
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block),
        }
        return cast(list[dict[str, Any]], self.call("eth_getLogs", [query]))


class Mirror:
    """Keeps one deployment's datasets, epochs, claims and token balances in SQL, from its logs."""

    def __init__(
        self,
        db: Database,
        client: ChainClient,
        deployment: Deployment,
        *,
        confirmations: int = 0,
        max_block_range: int = 2000,
    ) -> None:
        if confirmations < 0:
            raise ValueError(f"confirmations must be >= 0, got {confirmations}")
        if max_block_range < 1:
            raise ValueError(f"max_block_range must be >= 1, got {max_block_range}")
        self.db = db
        self.client = client
        self.deployment = deployment
        self.confirmations = confirmations
        self.max_block_range = max_block_range
        self.chain_id = deployment.chain_id
        self.decoder = EventDecoder(deployment)
        self._rpc = _Rpc(client)
        self._addresses = self.decoder.addresses
        self._topics = self.decoder.topics

    # --- the loop ---------------------------------------------------------------------------------

    def sync_once(self) -> int:
        """Applies everything confirmed since the cursor; returns how many logs were applied."""
        return self._sync(should_stop=lambda: False)

    def run(
        self,
        stop: threading.Event,
        *,
        poll_seconds: float = 1.0,
        max_backoff_seconds: float = 30.0,
    ) -> None:
        """Syncs until `stop` is set. A node or database outage is logged and waited out.

        A detected reorg or any other disagreement with the chain stops the loop with the error:
        carrying on would build on effects that may no longer be true.
        """
        failures = 0
        while not stop.is_set():
            try:
                applied = self._sync(should_stop=stop.is_set)
            except ChainStateMismatch:
                logger.critical(
                    "mirror stopped: the chain disagrees with what the mirror applied; "
                    "inspect the chain at the cursor block before restarting the mirror",
                    exc_info=True,
                )
                raise
            except Exception as exc:
                failures += 1
                delay = min(max_backoff_seconds, poll_seconds * 2 ** min(failures, 16))
                if isinstance(exc, ChainUnavailable | OperationalError):
                    logger.error(
                        "mirror sync failed (%s); retrying in %.1fs. If this persists, check that "
                        "the node at %s and the database are reachable",
                        exc,
                        delay,
                        self.client.rpc_url,
                    )
                else:
                    logger.exception(
                        "mirror sync failed unexpectedly; retrying in %.1fs. Report this with the "
                        "traceback if it repeats",
                        delay,
                    )
                stop.wait(delay)
                continue
            if failures:
                logger.info("mirror sync recovered after %d failed attempts", failures)
            failures = 0
            if applied:
                logger.info("mirror applied %d logs", applied)
            stop.wait(poll_seconds)

    def _sync(self, *, should_stop: Callable[[], bool]) -> int:
        if self.client.chain_id != self.chain_id:
            raise ChainStateMismatch(
                f"the node at {self.client.rpc_url} is chain {self.client.chain_id}, but the "
                f"deployment is on chain {self.chain_id}: point the mirror at the right node"
            )
        with self.db.unit_of_work() as session:
            cursor = repository.get_cursor(session, self.chain_id)
            position = None if cursor is None else (cursor.block_number, cursor.block_hash)

        if position is None:
            last_applied = self.deployment.deployment_block - 1
        else:
            last_applied, last_hash = position
            self._check_still_canonical(last_applied, last_hash)

        target = self._rpc.head() - self.confirmations
        applied = 0
        while last_applied < target and not should_stop():
            first = last_applied + 1
            last = min(last_applied + self.max_block_range, target)
            applied += self._apply_chunk(first, last)
            last_applied = last
        return applied

    def _check_still_canonical(self, number: int, stored_hash: str) -> None:
        on_chain = self._rpc.headers([number])[number].hash
        if on_chain != stored_hash.lower():
            raise MirrorReorgDetected(
                f"block {number} is {on_chain} on chain but the mirror applied {stored_hash}: "
                "the chain reorganised below the cursor. Stop writers that trust the mirror, "
                "then rebuild the mirror from the deployment block (reorg handling is not "
                "automatic yet)"
            )

    # --- one chunk, one transaction ---------------------------------------------------------------

    def _apply_chunk(self, first: int, last: int) -> int:
        raw_logs = self._rpc.logs(self._addresses, self._topics, first, last)
        decoded = [d for d in (self.decoder.decode(raw) for raw in raw_logs) if d is not None]
        headers = self._rpc.headers({*(log.block_number for log in decoded), last})

        for log in decoded:
            if headers[log.block_number].hash != log.block_hash:
                # the node switched branches between answering for the logs and for the blocks
                raise ChainUnavailable(
                    f"block {log.block_number} changed while the mirror read it; retrying"
                )
        decoded.sort(key=lambda log: (log.block_number, log.log_index))

        applied = 0
        with self.db.unit_of_work() as session:
            for header in headers.values():
                stored = repository.get_block(session, self.chain_id, header.number)
                if stored is not None and stored.hash != header.hash:
                    raise MirrorReorgDetected(
                        f"block {header.number} is {header.hash} on chain but the mirror recorded "
                        f"{stored.hash}: rebuild the mirror from the deployment block"
                    )
                repository.put_block(
                    session, self.chain_id, header.number, header.hash, header.parent_hash
                )

            stored_keys = repository.stored_log_keys(session, self.chain_id, first, last)
            for log in decoded:
                if (log.block_hash, log.log_index) in stored_keys:
                    continue
                repository.add_log(session, self.chain_id, log)
                self._apply(session, log)
                applied += 1

            repository.move_cursor(session, self.chain_id, last, headers[last].hash)

        logger.debug("mirror applied blocks %d..%d: %d new logs", first, last, applied)
        return applied

    def _apply(self, session: Session, log: DecodedLog) -> None:
        args = log.args
        match log.event:
            case "Transfer":
                self._apply_transfer(
                    session,
                    token=log.address,
                    sender=_address(args["from"]),
                    recipient=_address(args["to"]),
                    value=_uint(args["value"]),
                )
            case "TokenListed":
                index = _uint(args["index"])
                repository.put_ledger_token(
                    session, token_index=index, token=_address(args["token"])
                )
            case "FeesWithdrawn":
                row = self._ledger_token(session, _uint(args["token"]), log)
                row.fees -= min(row.fees, _uint(args["amount"]))
            case "DatasetCreated":
                dataset_id = _id_hex(args["datasetId"])
                if repository.get_chain_dataset(session, dataset_id) is not None:
                    raise ChainStateMismatch(f"dataset {dataset_id} created twice on chain")
                index = _uint(args["token"])
                repository.add_chain_dataset(
                    session,
                    dataset_id=dataset_id,
                    buyer=_address(args["buyer"]),
                    salt=_bytes32(args["salt"]),
                    token_index=index,
                    token=self._ledger_token(session, index, log).token,
                    fee_bps=_uint(args["feeBps"]),
                )
            case "DatasetFunded":
                record = self._dataset(session, log, args["datasetId"])
                record.funded += _uint(args["amount"])
                record.available = _uint(args["available"])
            case "DatasetCloseRequested":
                record = self._dataset(session, log, args["datasetId"])
                record.status = "closing"
                record.close_due_at = _uint(args["dueAt"])
            case "DatasetClosed":
                record = self._dataset(session, log, args["datasetId"])
                record.status = "closed"
                record.refunded += _uint(args["refund"])
                record.available = 0
            case "EpochProposed":
                self._apply_proposal(session, log)
            case "EpochAccepted" | "EpochRevoked":
                self._apply_decision(session, log)
            case "Claimed":
                claimed = repository.claimed_row(
                    session, _address(args["account"]), _uint(args["token"])
                )
                claimed.payment += _uint(args["payment"])
                claimed.reward += _uint(args["reward"])
            case _:
                raise AssertionError(f"decoder produced an event the mirror does not apply: {log}")

    def _apply_token_event(self, session: Session, log: DecodedLog) -> None:
        args = log.args
        if log.event == "TokenListed":
            index = _uint(args["index"])
            repository.put_ledger_token(session, token_index=index, token=_address(args["token"]))
        else:
            row = self._ledger_token(session, _uint(args["token"]), log)
            row.fees -= min(row.fees, _uint(args["amount"]))

    def _apply_decision(self, session: Session, log: DecodedLog) -> None:
        """EpochAccepted or EpochRevoked: a revocation returns the epoch's debits and fees."""
        number = _uint(log.args["epoch"])
        epoch = repository.get_chain_epoch(session, number)
        if log.event == "EpochAccepted":
            if epoch is None or epoch.payout_root != _bytes32(log.args["payoutRoot"]):
                raise ChainStateMismatch(
                    f"epoch {number} accepted in tx {log.tx_hash} with a root the mirror never "
                    "saw proposed: is deployment_block too late?"
                )
            epoch.status = "accepted"
            epoch.accepted_block = log.block_number
            return
        if epoch is None or epoch.status != "pending":
            raise ChainStateMismatch(
                f"epoch {number} revoked in tx {log.tx_hash}, but the mirror holds no pending "
                "proposal of it"
            )
        epoch.status = "revoked"
        for dataset_id, debit in epoch.debits:
            record = self._dataset(session, log, dataset_id)
            fee = int(debit) * record.fee_bps // BPS
            record.available += int(debit) + fee
            record.debited -= int(debit)
            record.fees -= fee
            self._ledger_token(session, record.token_index, log).fees -= fee

    def _apply_proposal(self, session: Session, log: DecodedLog) -> None:
        args = log.args
        number = _uint(args["epoch"])
        dataset_ids, debits = args["datasetIds"], args["debits"]
        assert isinstance(dataset_ids, list)
        assert isinstance(debits, list)
        existing = repository.get_chain_epoch(session, number)
        if existing is not None and existing.status != "revoked":
            raise MirrorReorgDetected(
                f"epoch {number} was mirrored as {existing.status} with root "
                f"{existing.payout_root}, now proposed again: rebuild the mirror from the "
                "deployment block"
            )
        listed = [[_id_hex(i), str(d)] for i, d in zip(dataset_ids, debits, strict=True)]
        for dataset_id, debit in listed:
            record = self._dataset(session, log, dataset_id)
            fee = int(debit) * record.fee_bps // BPS
            record.available -= int(debit) + fee
            record.debited += int(debit)
            record.fees += fee
            self._ledger_token(session, record.token_index, log).fees += fee
        fields = {
            "status": "pending",
            "payout_root": _bytes32(args["payoutRoot"]),
            "label_root": _bytes32(args["labelRoot"]),
            "content_hash": _bytes32(args["contentHash"]),
            "debits": listed,
            "acceptable_at": _uint(args["acceptableAt"]),
            "block_number": log.block_number,
            "tx_hash": log.tx_hash,
            "accepted_block": None,
        }
        if existing is None:
            repository.add_chain_epoch(session, ChainEpoch(epoch=number, **fields))
        else:
            for name, value in fields.items():
                setattr(existing, name, value)

    def _dataset(self, session: Session, log: DecodedLog, dataset_id: ArgValue) -> ChainDataset:
        hex_id = _id_hex(dataset_id)
        record = repository.get_chain_dataset(session, hex_id)
        if record is None:
            raise ChainStateMismatch(
                f"{log.event} in tx {log.tx_hash} names dataset {hex_id}, which the mirror "
                "never saw created: is deployment_block "
                f"({self.deployment.deployment_block}) too late?"
            )
        return record

    def _ledger_token(self, session: Session, index: int, log: DecodedLog) -> LedgerToken:
        row = repository.get_ledger_token(session, index)
        if row is None:
            raise ChainStateMismatch(
                f"{log.event} in tx {log.tx_hash} names payment token {index}, which the mirror "
                "never saw listed: is deployment_block too late?"
            )
        return row

    @staticmethod
    def _apply_transfer(
        session: Session,
        *,
        token: ChecksumAddress,
        sender: ChecksumAddress,
        recipient: ChecksumAddress,
        value: int,
    ) -> None:
        if sender == ZERO_ADDRESS:
            repository.supply_row(session, token).total_supply += value
        else:
            row = repository.balance_row(session, token, sender)
            if row.balance < value:
                raise ChainStateMismatch(
                    f"{sender} sent {value} of {token} holding {row.balance} by the mirror's "
                    "count: the token has history before the deployment block, which the "
                    "mirror cannot see"
                )
            row.balance -= value
        if recipient == ZERO_ADDRESS:
            supply = repository.supply_row(session, token)
            if supply.total_supply < value:
                raise ChainStateMismatch(
                    f"{value} of {token} burned with {supply.total_supply} minted by the "
                    "mirror's count: the token has history before the deployment block"
                )
            supply.total_supply -= value
        else:
            repository.balance_row(session, token, recipient).balance += value


def _id_hex(value: ArgValue) -> Bytes32Hex:
    """A uint256 dataset id as the 0x + 64 hex the database keys it by."""
    if isinstance(value, str):
        return Bytes32Hex(value)
    assert isinstance(value, int)
    return Bytes32Hex("0x" + value.to_bytes(32, "big").hex())


def _address(value: ArgValue) -> ChecksumAddress:
    assert isinstance(value, str)
    return ChecksumAddress(value)


def _bytes32(value: ArgValue) -> Bytes32Hex:
    assert isinstance(value, str)
    return Bytes32Hex(value)


def _uint(value: ArgValue) -> int:
    assert isinstance(value, int)
    return value
