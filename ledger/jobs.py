"""Background jobs: the chain mirror, its reconciliation with the chain, periodic settlement, the
work queue's upkeep and the publication.

`label-ledger worker` runs them (`label-ledger up` too, beside its API). Each job takes its own
job lock (ledger/kit/joblock.py) for every round, so any number of workers may run on one
database: each job runs in one of them at a time, and when that worker dies (even by kill -9) the
operating system drops its locks and another worker's next round takes the job over. Settlement's
lock is taken inside `settle()` itself, so the operator's `POST /v1/epochs` in any API process
and the periodic job of any worker wait for one another's round the same way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from ledger.annotation import queue
from ledger.annotation.service import auto_accept_due
from ledger.annotation.standing import reveal_due
from ledger.kit.errors import ChainStateMismatch, LedgerError
from ledger.kit.joblock import try_job_lock
from ledger.mirror.service import Mirror
from ledger.runtime import Runtime
from ledger.settlement.build import EpochInFlight
from ledger.settlement.models import Epoch
from ledger.settlement.publish import PUBLICATION_JOB, publish
from ledger.settlement.service import settle

log = logging.getLogger(__name__)

#: Every job a worker runs, by the name of its lock.
JOBS = ("mirror", "reconciliation", "settlement", "upkeep", "publication")

#: How long the operator's settlement waits for another publisher before leaving its new epoch
#: to the publication job's next round.
PUBLISH_WAIT_SECONDS = 10.0

#: The mirror keeps its lock across rounds for this long, then lets go and takes it again: one
#: connection a while instead of one a poll, and a lock lost with its connection (the database
#: restarted) is noticed within this time.
MIRROR_HOLD_SECONDS = 30.0

#: The longest pause after failed rounds (they back off from the job's period).
MAX_BACKOFF_SECONDS = 30.0


def settle_and_publish(runtime: Runtime, operator: LocalAccount) -> Epoch | None:
    """One settlement round, then the publication brought up to date (new epochs, terms of new
    datasets, gold answers of closed ones). Raises `EpochInFlight` at once, without publishing,
    when another settlement runs anywhere on the database: that one publishes."""
    try:
        epoch = settle(runtime.db, runtime.chain, runtime.deployment, operator, clock=runtime.clock)
    except EpochInFlight:
        raise
    except BaseException:
        # a round that failed half way may still have proposed an epoch: publish what is there
        publish(runtime.db, runtime.deployment, runtime.settings.publish_dir)
        raise
    publish(runtime.db, runtime.deployment, runtime.settings.publish_dir, wait=PUBLISH_WAIT_SECONDS)
    return epoch


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


# --- the rounds -------------------------------------------------------------------------------


def _mirror_round(mirror: Mirror, stop: threading.Event) -> str | None:
    report = mirror.sync(should_stop=stop.is_set)
    if report.applied or report.reorgs:
        return (
            f"mirror at block {report.cursor} (head {report.head}): {report.applied} logs "
            f"applied, {report.reorgs} reorgs undone"
        )
    return None


def _reconciliation_round(mirror: Mirror) -> str | None:
    report = mirror.reconcile(repair=True)
    if report.ok:
        return None
    return f"reconciliation: {report.drift_count} of {report.checked} values differed (repaired)"


def _settlement_round(runtime: Runtime, operator: LocalAccount) -> str | None:
    epoch = settle_and_publish(runtime, operator)
    if epoch is None:
        return None
    return f"epoch {epoch.number} ({epoch.label_count} labels) is {epoch.status} on chain"


def _upkeep_round(runtime: Runtime) -> str | None:
    released, revealed = upkeep(runtime)
    with runtime.db.unit_of_work() as session:
        accepted = auto_accept_due(session, now=runtime.clock())
    if released or revealed or accepted:
        return (
            f"{released} expired lease(s) ended, {revealed} gold verdict(s) revealed, "
            f"{accepted} label(s) accepted at the end of their review window"
        )
    return None


def _publication_round(runtime: Runtime) -> str | None:
    # the lock is publish()'s own: a settlement publishes through it too
    publish(runtime.db, runtime.deployment, runtime.settings.publish_dir)
    return None


# --- running them -----------------------------------------------------------------------------


@dataclass
class Job:
    """A job: one round every `every` seconds, under the job lock `name` (unless the round takes
    it itself), the lock kept across rounds for up to `hold_seconds`."""

    name: str
    every: float
    round: Callable[[], str | None]
    locks_itself: bool = False
    hold_seconds: float = 0.0
    # the mirror starts at once; the periodic jobs wait one period first, as they always did
    starts_at_once: bool = False


def jobs_of(runtime: Runtime, stop: threading.Event, only: set[str] | None = None) -> list[Job]:
    """The jobs a worker runs with these settings (all of JOBS unless `only`)."""
    settings = runtime.settings
    wanted = set(JOBS) if only is None else only
    mirror = build_mirror(runtime)
    mirror.rpc.stop_with(stop)  # asked to stop, it stops retrying a node that is away
    jobs = [
        Job(
            "mirror",
            settings.mirror_poll_seconds,
            lambda: _mirror_round(mirror, stop),
            hold_seconds=MIRROR_HOLD_SECONDS,
            starts_at_once=True,
        ),
        Job("upkeep", settings.upkeep_seconds, lambda: _upkeep_round(runtime)),
        Job(
            PUBLICATION_JOB,
            settings.upkeep_seconds,
            lambda: _publication_round(runtime),
            locks_itself=True,
        ),
    ]
    if settings.mirror_reconcile_seconds > 0:
        # a mirror of its own: its RPC client is not shared with the syncing thread
        checker = build_mirror(runtime)
        jobs.append(
            Job(
                "reconciliation",
                settings.mirror_reconcile_seconds,
                lambda: _reconciliation_round(checker),
            )
        )
    operator = runtime.operator
    if settings.settle_every_seconds > 0:
        if operator is None:
            log.warning("no operator key (LABEL_LEDGER_OPERATOR_KEY): periodic settlement is off")
        else:
            jobs.append(
                Job(
                    "settlement",
                    settings.settle_every_seconds,
                    lambda: _settlement_round(runtime, operator),
                    locks_itself=True,
                )
            )
    return [job for job in jobs if job.name in wanted]


def run_job(runtime: Runtime, job: Job, stop: threading.Event) -> None:
    """Runs `job` until `stop` is set: a round every `job.every` seconds when its lock is free.
    A failed round is logged and retried later (backing off); the mirror's alarm (the chain
    disagrees with what it applied) ends the job, as carrying on would publish wrong balances."""
    failures = 0
    if not job.starts_at_once:
        stop.wait(job.every)
    while not stop.is_set():
        try:
            if job.locks_itself:
                said = job.round()
            else:
                said = None
                _rounds_under_lock(runtime, job, stop)
        except ChainStateMismatch:
            log.critical(
                "ALARM: %s stopped: the chain disagrees with what the mirror applied and it "
                "cannot repair that itself. Inspect the chain at the cursor block; "
                "`label-ledger mirror --rebuild` re-reads everything from the deployment block",
                job.name,
                exc_info=True,
            )
            raise
        except EpochInFlight as exc:
            log.info("%s round skipped: %s", job.name, exc.message)
        except LedgerError as exc:
            # expected, transient states (mirror behind, chain briefly away): retry later
            failures += 1
            log.warning("%s round skipped: %s", job.name, exc.message)
        except Exception:
            failures += 1
            log.exception("%s round failed; retrying", job.name)
        else:
            if failures:
                log.info("%s recovered after %d failed round(s)", job.name, failures)
            failures = 0
            if said:
                log.info("%s", said)
        delay = job.every if not failures else min(MAX_BACKOFF_SECONDS, job.every * 2**failures)
        stop.wait(delay)


def _rounds_under_lock(runtime: Runtime, job: Job, stop: threading.Event) -> None:
    """Rounds of `job` while holding its lock (one, or more while `hold_seconds` lasts), each
    logging what it did; nothing when another process holds the lock."""
    with try_job_lock(runtime.db, job.name) as held:
        if not held:
            return
        until = time.monotonic() + job.hold_seconds
        while True:
            said = job.round()
            if said:
                log.info("%s", said)
            if time.monotonic() >= until or stop.wait(job.every):
                return


def start_background(
    runtime: Runtime, stop: threading.Event, only: set[str] | None = None
) -> list[threading.Thread]:
    """Starts the jobs (every one of JOBS unless `only`) in threads of this process; they end
    when `stop` is set."""
    threads = [
        threading.Thread(target=run_job, args=(runtime, job, stop), name=job.name, daemon=True)
        for job in jobs_of(runtime, stop, only)
    ]
    for thread in threads:
        thread.start()
    return threads
