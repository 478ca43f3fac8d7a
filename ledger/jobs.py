"""Background jobs of a running instance: the chain mirror, periodic settlement, and the work
queue's upkeep."""

from __future__ import annotations

import logging
import threading

from eth_account.signers.local import LocalAccount

from ledger.annotation import queue
from ledger.annotation.standing import reveal_due
from ledger.kit.errors import LedgerError
from ledger.mirror.service import Mirror
from ledger.runtime import Runtime
from ledger.settlement.models import Epoch
from ledger.settlement.publish import publish
from ledger.settlement.service import settle

log = logging.getLogger(__name__)


def settle_and_publish(runtime: Runtime, operator: LocalAccount) -> Epoch | None:
    """One settlement round, then the publication brought up to date (new epochs, terms of new
    datasets, gold answers of closed ones)."""
    try:
        return settle(runtime.db, runtime.chain, runtime.deployment, operator, clock=runtime.clock)
    finally:
        publish(runtime.db, runtime.deployment, runtime.settings.publish_dir)


def settlement_loop(runtime: Runtime, stop: threading.Event, every_seconds: float) -> None:
    """Settles an epoch every `every_seconds` when there is something to pay."""
    operator = runtime.operator
    if operator is None:
        log.warning("no operator key: periodic settlement is off")
        return
    while not stop.wait(every_seconds):
        try:
            epoch = settle_and_publish(runtime, operator)
        except LedgerError as exc:
            # Expected, transient states (mirror behind, chain briefly away): try next round.
            log.warning("settlement round skipped: %s", exc.message)
            continue
        except Exception:
            log.exception("settlement round failed; retrying next round")
            continue
        if epoch is not None:
            log.info(
                "epoch %s (%s labels) is %s on chain", epoch.number, epoch.label_count, epoch.status
            )


def upkeep(runtime: Runtime) -> tuple[int, int]:
    """Reveals the gold verdicts whose seal has passed (they count and are paid from now on) and
    clears the leases that ran out (their items are served again already; this keeps what the
    database says about who holds what true); (leases cleared, verdicts revealed)."""
    now = runtime.clock()
    with runtime.db.unit_of_work() as session:
        released = queue.release_expired(session, now=now)
    with runtime.db.unit_of_work() as session:
        revealed = reveal_due(session, now=now)
    return released, revealed


def upkeep_loop(runtime: Runtime, stop: threading.Event, every_seconds: float) -> None:
    while not stop.wait(every_seconds):
        try:
            released, revealed = upkeep(runtime)
        except Exception:
            log.exception("queue upkeep failed; retrying next round")
            continue
        if released or revealed:
            log.info("%s expired lease(s) ended, %s gold verdict(s) revealed", released, revealed)


def build_mirror(runtime: Runtime) -> Mirror:
    """The instance's mirror, configured from its settings."""
    settings = runtime.settings
    return Mirror(
        runtime.db,
        runtime.chain,
        runtime.deployment,
        confirmations=settings.confirmations,
        max_block_range=settings.mirror_max_block_range,
        max_reorg_depth=settings.mirror_max_reorg_depth,
        rpc_timeout=settings.mirror_rpc_timeout,
    )


def start_background(runtime: Runtime, stop: threading.Event) -> list[threading.Thread]:
    settings = runtime.settings
    mirror = build_mirror(runtime)
    threads = [
        threading.Thread(
            target=mirror.run,
            args=(stop,),
            kwargs={
                "poll_seconds": settings.mirror_poll_seconds,
                "reconcile_every_seconds": settings.mirror_reconcile_seconds,
            },
            name="mirror",
            daemon=True,
        ),
        threading.Thread(
            target=upkeep_loop,
            args=(runtime, stop, settings.upkeep_seconds),
            name="upkeep",
            daemon=True,
        ),
    ]
    if settings.settle_every_seconds > 0:
        threads.append(
            threading.Thread(
                target=settlement_loop,
                args=(runtime, stop, settings.settle_every_seconds),
                name="settlement",
                daemon=True,
            )
        )
    for thread in threads:
        thread.start()
    return threads
