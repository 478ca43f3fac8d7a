"""The `label-ledger` command: up, serve, worker, deploy, mirror, settle, push, demo, audit,
publish."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import shlex
import shutil
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import uvicorn
from eth_account.signers.local import LocalAccount
from pydantic import SecretStr
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.engine import make_url

from ledger.audit.offline import AuditReport, audit
from ledger.chain.client import ChainClient, Deployment, DeploymentMissing, account_from_key
from ledger.chain.deploy import deploy_all, shown_url
from ledger.chain.devnode import DEV_KEYS, Anvil, AnvilPortTaken, rescue_orphan_chain
from ledger.chain.keys import (
    ask_password,
    new_account,
    read_password_file,
    unlock,
    write_keystore,
)
from ledger.chain.networks import network_named
from ledger.claim.service import NothingToClaim, push_payouts
from ledger.commands import db as db_commands
from ledger.demo import run_demo
from ledger.jobs import JOBS, build_mirror, settle_and_publish, start_background
from ledger.kit import migrate
from ledger.kit.config import STATE_DIR, Settings
from ledger.kit.errors import LedgerError
from ledger.mirror.reconcile import ReconcileReport
from ledger.mirror.service import Mirror, delete_mirror_state
from ledger.runtime import Runtime
from ledger.settlement.models import EpochStatus
from ledger.settlement.publish import publish
from ledger.uprecord import (
    NoRunningUp,
    UpRecord,
    cli_command,
    now_iso,
    process_alive,
    record_path,
    remove_record,
    running_up,
)

console = Console()

DEFAULT_API_PORT = 8000
DEFAULT_CHAIN_PORT = 8545
DEV_CHAIN_ID = 31337


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(name)s: %(message)s",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=True)],
    )
    for noisy in ("httpx", "httpcore", "web3", "urllib3", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _settings(**defaults: object) -> Settings:
    """Settings from the environment; `defaults` fill only what the environment leaves unset."""
    chosen = {
        key: value
        for key, value in defaults.items()
        if f"LABEL_LEDGER_{key.upper()}" not in os.environ
    }
    return Settings(**chosen)  # type: ignore[arg-type]


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def start_local_chain(state: Path, preferred_port: int = DEFAULT_CHAIN_PORT) -> Anvil:
    """Anvil on the usual port when it is free, else on a free one, its log and state in `state`.
    The usual port can be taken between the look and Anvil's bind (two `up`s started at once on
    one machine): Anvil then reports it, and this one takes a free port rather than share, and
    race nonces on, the other's chain."""

    def anvil(port: int | None) -> Anvil:
        return Anvil(port=port, log_path=state / "anvil.log", state_path=state / "anvil-state.json")

    if _port_free(preferred_port):
        try:
            return anvil(preferred_port).start()
        except AnvilPortTaken:
            pass
    return anvil(None).start()


def _can_listen(host: str, port: int) -> bool:
    """Whether a server may listen on host:port now (bound the way uvicorn binds it)."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError:
        return False
    return True


def _rescue_the_chain_of_a_killed_up(state: Path) -> None:
    """An `up` killed with SIGKILL leaves its Anvil running: save its state and stop it, so this
    `up` starts the same chain, nothing lost, on the port wallets know."""
    path = record_path(state)
    try:
        dead = UpRecord.read(path)
    except (OSError, ValueError, KeyError, TypeError):
        return
    if process_alive(dead.pid):
        return
    if rescue_orphan_chain(
        pid=dead.chain_pid, rpc_url=dead.rpc_url, state_path=state / "anvil-state.json"
    ):
        console.print(
            f"[yellow]chain[/]   the Anvil a stopped up left running (pid {dead.chain_pid}) was "
            "saved and stopped: starting it again"
        )


def cmd_up(args: argparse.Namespace) -> int:

    state = Path(args.state_dir)
    try:
        other = running_up(state, otherwise="")
    except NoRunningUp:
        _rescue_the_chain_of_a_killed_up(state)
    else:
        console.print(
            f"[red]a label-ledger up already runs from {state}[/] at {other.api_url} (pid "
            f"{other.pid}): use it, stop it first, or pass another --state-dir",
            soft_wrap=True,
        )
        return 2
    if args.fresh and state.exists():
        shutil.rmtree(state)
    state.mkdir(parents=True, exist_ok=True)
    if not _port_free(args.port):
        console.print(f"[red]port {args.port} is taken[/]: stop what runs there or pass --port")
        return 2
    url = f"http://127.0.0.1:{args.port}"
    # First, where a person goes: the web app, served by the API below.
    console.print(f"[green]app[/]     {url}/")

    with console.status("starting a local Anvil chain..."):
        anvil = start_local_chain(state)
    console.print(f"[green]chain[/]   Anvil at {anvil.rpc_url} (state in {state}/anvil-state.json)")
    # uvicorn stops gracefully on SIGTERM and then raises it again: exiting through the
    # `finally`s below instead stops Anvil and removes up.json.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        deployment_file = state / "deployment.json"
        database_file = state / "ledger.sqlite"
        client = ChainClient(anvil.rpc_url)
        deployment = _reuse_deployment(client, deployment_file)
        if deployment is None:
            chosen = Settings()
            with console.status("deploying the ledger..."):
                deployment = deploy_all(
                    client,
                    account_from_key(DEV_KEYS[0]),
                    with_dev_token=True,
                    guardian=chosen.guardian,
                    pauser=chosen.pauser,
                    timelock=chosen.timelock_seconds,
                    fee_bps=chosen.fee_bps,
                )
            deployment.save(deployment_file)
            if database_file.exists():
                # The old database describes a chain that no longer exists: keep it aside.
                database_file.rename(database_file.with_suffix(".sqlite.old"))
            console.print(
                f"[green]deploy[/]  LabelLedger at {deployment.ledger} (timelock "
                f"{deployment.timelock}s, fee {deployment.fee_bps} bps), written to "
                f"{deployment_file}"
            )
        else:
            console.print(f"[green]deploy[/]  reusing the contracts in {deployment_file}")
        settings = _settings(
            rpc_url=anvil.rpc_url,
            public_rpc_url=anvil.rpc_url,
            deployment_file=deployment_file,
            database_url=f"sqlite:///{database_file}",
            operator_key=DEV_KEYS[0],
            siwe_domain=f"127.0.0.1:{args.port}",
            siwe_uri=f"http://127.0.0.1:{args.port}",
            settle_every_seconds=args.settle_every,
            publish_dir=state / "published",
        )
        db_commands.upgrade_for_up(settings.database_url, console)
        runtime = Runtime.from_settings(settings)
        stop = threading.Event()
        threads = start_background(runtime, stop)
        command = cli_command()
        beside = "" if state == STATE_DIR else f" --state-dir {shlex.quote(str(state))}"
        console.print(
            f"[green]api[/]     {url}  (OpenAPI docs at {url}/docs)\n"
            f"[green]db[/]      {runtime.db.engine.url.render_as_string(hide_password=True)}\n"
            f"[green]jobs[/]    mirror every {settings.mirror_poll_seconds}s, settlement "
            + (
                f"every {settings.settle_every_seconds}s"
                if settings.settle_every_seconds
                else "off"
            )
            + f"\n[green]publish[/] {settings.publish_dir} and {url}/v1/published "
            f"({command} audit{beside} checks them against the chain)"
            + f"\n[bold]try it:[/] {command} demo{beside}    (Ctrl-C stops everything)",
            soft_wrap=True,
        )
        server = uvicorn.Server(
            uvicorn.Config(_web_app(runtime), host="127.0.0.1", port=args.port, log_level="warning")
        )
        UpRecord(
            api_url=url,
            rpc_url=anvil.rpc_url,
            pid=os.getpid(),
            chain_pid=anvil.process.pid if anvil.process else None,
            deployment_file=str(deployment_file.resolve()),
            publish_dir=str(settings.publish_dir.resolve()),
            started_at=now_iso(),
        ).write(record_path(state))
        try:
            server.run()
        finally:
            remove_record(state, pid=os.getpid())
            stop.set()
            for thread in threads:
                thread.join(timeout=10)
    finally:
        anvil.stop()
        console.print("stopped: API, jobs and Anvil")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """What a deployment runs for its API: `--workers` processes answering requests, stateless,
    on a chain already deployed and a database already upgraded, configured by the LABEL_LEDGER_*
    settings alone. The background jobs run in `label-ledger worker` (as many as you like)."""
    if not _can_listen(args.host, args.port):
        console.print(
            f"[red]cannot listen on {args.host}:{args.port}[/]: the port is taken (or the "
            "address is not this machine's); stop what runs there or pass --port"
        )
        return 2
    settings = Settings()
    migrate.require_head_of(settings.database_url)  # before any worker process starts
    deployment = Deployment.load(settings.deployment_file)
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    console.print(
        f"[green]api[/]     http://{args.host}:{args.port} on chain {deployment.chain_id}, "
        f"ledger {deployment.ledger}, {args.workers} worker process(es)\n"
        f"[green]db[/]      {database}\n"
        f"[green]jobs[/]    not in this process: run `{cli_command()} worker` beside it (mirror, "
        "reconciliation, settlement, upkeep, publication)",
        soft_wrap=True,
    )
    if args.workers > 1:
        # Each worker process imports the app factory and builds its own Runtime from the
        # settings (the environment it inherits), on a listening socket of its own
        # (ledger/serving.py); uvicorn's supervisor restarts a worker that dies and stops them
        # all on SIGTERM or Ctrl-C.
        from ledger.serving import serve_workers  # noqa: PLC0415 (only serve needs uvicorn's)

        serve_workers(args.host, args.port, args.workers)
        return 0
    runtime = Runtime.from_settings(settings)
    server = uvicorn.Server(
        uvicorn.Config(_web_app(runtime), host=args.host, port=args.port, log_level="warning")
    )
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again: exiting 0 here
    # (through the `finally`) lets it close its connections instead of dying by the default
    # handler.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        server.run()
    finally:
        runtime.db.engine.dispose()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """The background jobs (ledger/jobs.py), each under its job lock: run one worker or several
    (on other machines too) against one database; each job runs in one of them at a time and
    another takes it over when that one dies."""
    only = set(args.jobs.split(",")) if args.jobs else None
    unknown = (only or set()) - set(JOBS)
    if unknown:
        console.print(
            f"[red]no job {', '.join(sorted(unknown))}[/]: --jobs takes a comma-separated list "
            f"of {', '.join(JOBS)}"
        )
        return 2
    runtime = Runtime.from_settings(Settings())
    settings = runtime.settings
    stop = threading.Event()

    def stop_now(signum: int, _frame: object) -> None:
        if not stop.is_set():
            console.print(f"{signal.Signals(signum).name}: stopping after the rounds under way")
        stop.set()

    signal.signal(signal.SIGTERM, stop_now)
    signal.signal(signal.SIGINT, stop_now)
    threads = start_background(runtime, stop, only)
    every = settings.settle_every_seconds
    console.print(
        f"[green]worker[/]  pid {os.getpid()} on chain {runtime.deployment.chain_id}, ledger "
        f"{runtime.deployment.ledger}\n"
        f"[green]db[/]      {runtime.db.engine.url.render_as_string(hide_password=True)}\n"
        f"[green]jobs[/]    {', '.join(t.name for t in threads) or 'none'} (mirror every "
        f"{settings.mirror_poll_seconds}s, settlement "
        + (f"every {every}s" if every and runtime.operator else "off")
        + "); each runs in one worker at a time",
        soft_wrap=True,
    )
    code = 0
    while not stop.wait(1.0):
        stopped = [t.name for t in threads if not t.is_alive()]
        if stopped:
            # only an alarm ends a job (see run_job): exit so a supervisor sees it
            console.print(f"[red]job {', '.join(stopped)} stopped[/]: see the log above")
            code = 1
            stop.set()
    for thread in threads:
        thread.join(timeout=30)
    runtime.db.engine.dispose()
    console.print("stopped: worker")
    return code


def _web_app(runtime: Runtime) -> Any:
    """The API and web app, imported only by the commands that serve them: every other command
    (audit, demo, claim, ...) starts without FastAPI and the routes, a second less each time."""
    from api.app import create_app  # noqa: PLC0415 (see above)

    return create_app(runtime)


def _exit_cleanly(_signum: int, _frame: object) -> NoReturn:
    raise SystemExit(0)


def _reuse_deployment(client: ChainClient, path: Path) -> Deployment | None:
    """The deployment of an earlier `up`, if its contracts are still on this chain."""
    if not path.exists():
        return None
    try:
        deployment = Deployment.load(path)
    except DeploymentMissing:  # a v1 deployment file: deploy the ledger afresh
        return None
    if deployment.chain_id != client.chain_id:
        return None
    code = client.w3.eth.get_code(deployment.ledger)  # type: ignore[arg-type]
    return deployment if len(code) > 0 else None


def cmd_deploy(args: argparse.Namespace) -> int:
    """Deploys to any JSON-RPC; with --network (or LABEL_LEDGER_NETWORK) the chain must be that
    network's, the payment token defaults to its native USDC, and the deployment file records
    the network's confirmations and reorg depth for the mirror."""
    settings = Settings()
    name = args.network or settings.network
    network = network_named(name) if name else None
    deployer = _deployer_account(args)
    if deployer is None:
        return 2
    if args.dev_token and network is not None and not network.testnet:
        console.print(
            f"[red]--dev-token deploys the dUSD faucet token[/]: not on {network.title}, whose "
            "payment token is USDC"
        )
        return 2
    tokens = tuple(args.payment_token)
    if not tokens and network is not None and network.usdc and not args.dev_token:
        tokens = (network.usdc,)
    client = ChainClient(args.rpc, max_fee_per_gas_gwei=settings.max_fee_per_gas_gwei)
    where = network.title if network else f"chain {client.chain_id}"
    with console.status(f"deploying to {where} at {shown_url(args.rpc)}..."):
        deployment = deploy_all(
            client,
            deployer,
            operator=args.operator,
            guardian=args.guardian or settings.guardian,
            pauser=args.pauser or settings.pauser,
            payment_tokens=tokens,
            with_dev_token=args.dev_token,
            timelock=settings.timelock_seconds if args.timelock is None else args.timelock,
            fee_bps=settings.fee_bps if args.fee_bps is None else args.fee_bps,
            network=network,
        )
    if deployment.timelock == 0 and deployment.chain_id != DEV_CHAIN_ID:
        console.print(
            "[yellow]warning[/]: timelock 0 on a non-dev chain: epochs are claimable as soon as "
            "they are proposed and the guardian can never revoke one (set --timelock)"
        )
    out = Path(args.out)
    deployment.save(out)
    console.print(f"[green]deployed[/] to {where}; wrote {out}")
    if network is not None:
        console.print(
            f"[green]network[/] {network.name}: the mirror confirms at {network.confirmations} "
            f"blocks and undoes reorgs up to {network.max_reorg_depth} (LABEL_LEDGER_CONFIRMATIONS "
            "and LABEL_LEDGER_MIRROR_MAX_REORG_DEPTH override)"
        )
    console.print_json(out.read_text())
    return 0


def _deployer_account(args: argparse.Namespace) -> LocalAccount | None:
    """The deployer: --keystore FILE (password from --password-file or typed), else
    LABEL_LEDGER_DEPLOYER_KEY; keys are never taken on the command line."""
    if args.keystore:
        password_file = Path(args.password_file) if args.password_file else None
        return unlock(Path(args.keystore), password_file)
    key = os.environ.get("LABEL_LEDGER_DEPLOYER_KEY")
    if not key:
        console.print(
            "[red]set LABEL_LEDGER_DEPLOYER_KEY[/] to the deployer's private key, or pass "
            "--keystore FILE (it pays for the deployment; keys are never taken on the "
            "command line)"
        )
        return None
    return account_from_key(SecretStr(key))


def cmd_keystore(args: argparse.Namespace) -> int:
    """`keystore new`: a fresh key; `keystore import`: the key in LABEL_LEDGER_IMPORT_KEY (or
    typed). Either is written encrypted (eth-account's keystore format) to --out, mode 0600."""
    out = Path(args.out)
    if args.keystore_command == "new":
        account = new_account()
    else:
        key = os.environ.get("LABEL_LEDGER_IMPORT_KEY")
        if not key:
            if not sys.stdin.isatty():
                console.print(
                    "[red]set LABEL_LEDGER_IMPORT_KEY[/] to the hex key to import, or run in a "
                    "terminal to type it"
                )
                return 2
            key = getpass.getpass("private key (hex): ")
        account = account_from_key(SecretStr(key))
    if args.password_file:
        password = read_password_file(Path(args.password_file))
    else:
        password = ask_password(out, confirm=True)
    write_keystore(out, account, password)
    console.print(
        f"[green]wrote[/] {out} (mode 0600) for {account.address}; use it with "
        f"LABEL_LEDGER_OPERATOR_KEYSTORE={out} and LABEL_LEDGER_OPERATOR_KEYSTORE_PASSWORD_FILE"
    )
    return 0


def _catch_up(mirror: Mirror) -> None:
    """Syncs to the head once, with a progress bar over the blocks."""
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("mirroring blocks", total=None)
        start: list[int] = []

        def shown(cursor: int, target: int) -> None:
            if not start:
                start.append(cursor)
            bar.update(task, completed=cursor - start[0], total=max(1, target - start[0]))

        report = mirror.sync(should_stop=lambda: False, progress=shown)
    console.print(
        f"mirror at block {report.cursor} (head {report.head}): {report.applied} logs applied, "
        f"{report.reorgs} reorgs undone, {report.pending} pending transfers"
    )


def _print_reconciliation(report: ReconcileReport) -> None:
    if report.ok:
        console.print(
            f"[green]reconciled[/]: {report.checked} values agree with the chain at block "
            f"{report.block_number} ({report.block_hash})"
        )
        return
    table = Table(title=f"drift at block {report.block_number}: mirror vs chain")
    for column in ("what", "key", "mirror", "chain"):
        table.add_column(column)
    for row in report.drift:
        table.add_row(row["what"], row["key"], row["mirror"], row["chain"])
    console.print(table)
    console.print(
        f"[red]{report.drift_count} of {report.checked} values differ[/]"
        + (
            f"; re-synced from block {report.repaired_from}"
            if report.repaired_from is not None
            else "; run again without --no-repair to re-sync from the last good point"
        )
    )


def cmd_mirror(args: argparse.Namespace) -> int:
    if args.no_repair and not args.reconcile:
        console.print("[red]--no-repair[/] only applies to [bold]--reconcile[/]")
        return 2
    runtime = Runtime.from_settings(Settings())
    settings = runtime.settings
    mirror = build_mirror(runtime)
    console.print(f"mirroring chain {runtime.deployment.chain_id} into {runtime.db.engine.url}")
    if args.rebuild:
        with runtime.db.unit_of_work() as session:
            delete_mirror_state(session, runtime.deployment.chain_id)
        console.print("forgot the mirrored state: re-reading from the deployment block")
    _catch_up(mirror)
    if args.reconcile:
        report = mirror.reconcile(repair=not args.no_repair)
        _print_reconciliation(report)
        if report.repaired_from is not None:
            _catch_up(mirror)
        return 0 if report.ok else 2
    if args.once:
        return 0
    stop = threading.Event()
    try:
        mirror.run(
            stop,
            poll_seconds=settings.mirror_poll_seconds,
            reconcile_every_seconds=settings.mirror_reconcile_seconds,
        )
    except KeyboardInterrupt:
        stop.set()
    return 0


def cmd_settle(_args: argparse.Namespace) -> int:
    runtime = Runtime.from_settings(Settings())
    if runtime.operator is None:
        console.print("[red]set LABEL_LEDGER_OPERATOR_KEY[/]: settling posts a root on chain")
        return 2
    epoch = settle_and_publish(runtime, runtime.operator)
    console.print(f"publication: {runtime.settings.publish_dir} (audit it: {cli_command()} audit)")
    if epoch is None:
        console.print("nothing to settle: no verified, unpaid label")
    elif epoch.status is EpochStatus.accepted:
        console.print(
            f"epoch {epoch.number} accepted on chain: {epoch.label_count} labels, "
            f"payout root {epoch.payout_root}"
        )
    else:
        console.print(
            f"epoch {epoch.number} proposed on chain ({epoch.label_count} labels, payout root "
            f"{epoch.payout_root}); claimable once accepted, from unix time "
            f"{epoch.acceptable_at}: run settle again then"
        )
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    """Writes the publication (every proposed epoch, every funded dataset's terms, the gold
    answers of closed ones) from the database to a directory, to copy anywhere."""
    runtime = Runtime.from_settings(Settings())
    out = Path(args.out) if args.out else runtime.settings.publish_dir
    if out.exists() and not out.is_dir():
        console.print(f"[red]cannot publish[/]: {out} is a file; pass --out with a directory")
        return 2
    try:
        written = publish(runtime.db, runtime.deployment, out, wait=60)
    except OSError as exc:
        console.print(
            f"[red]cannot publish to {out}[/]: {exc.strerror or exc}; pass --out with a "
            "directory you can write"
        )
        return 2
    if not written:
        console.print(
            "[red]another process has been writing the publication for a minute[/]: try again "
            "once it is done"
        )
        return 1
    console.print(f"published to {out}: check it with {cli_command()} audit --epochs {out}")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    runtime = Runtime.from_settings(Settings())
    if runtime.operator is None:
        console.print(
            "[red]set LABEL_LEDGER_OPERATOR_KEY[/]: pushing pays the claims' gas from that key"
        )
        return 2
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("pushing payouts", total=None)

        def advance(sent: int, total: int) -> None:
            progress.update(task, completed=sent, total=total)

        try:
            sent = push_payouts(
                runtime.db,
                runtime.chain,
                runtime.deployment,
                runtime.operator,
                batch_size=args.batch,
                on_batch=advance,
            )
        except NothingToClaim as exc:
            console.print(f"nothing to push: {exc}")
            return 0
    console.print(
        f"pushed {sent} payout leaves in batches of at most {args.batch}"
        if sent
        else "nothing to push: every leaf of the accepted epoch is claimed"
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    state_dir: Path | None = None  # the `up` the demo drives, when it found one
    if args.api:
        api_url, rpc_url = args.api.rstrip("/"), args.rpc
        console.print(f"using the label-ledger API at {api_url} (from --api)", soft_wrap=True)
    else:
        try:
            up = running_up(Path(args.state_dir), otherwise="pass --api URL")
        except NoRunningUp as exc:
            console.print(f"[red]cannot run the demo[/]: {exc.message}", soft_wrap=True)
            return 2
        api_url, rpc_url = up.api_url, args.rpc or up.rpc_url
        state_dir = Path(args.state_dir)
        _say_which_up(console, up, state_dir)
    report = run_demo(
        api_url=api_url,
        rpc_url=rpc_url,
        operator_key=os.environ.get("LABEL_LEDGER_OPERATOR_KEY"),
        items=args.items,
        annotators=args.annotators,
        console=console,
        state_dir=state_dir,
        showcase=args.showcase,
    )
    return 0 if report.balances_agree else 1


def _say_which_up(out: Console, up: UpRecord, state_dir: Path) -> None:
    out.print(
        f"using the label-ledger up at {up.api_url} (from {record_path(state_dir)})",
        soft_wrap=True,
    )


def cmd_audit(args: argparse.Namespace) -> int:
    """Audits every payout from the chain and the publication alone: 0 when every check passes
    (or is pending), 1 on a failed check, 2 when the audit cannot run."""
    out = console
    if args.json:
        # stdout carries the report only: messages go to stderr, retry warnings nowhere
        out = Console(stderr=True)
        logging.disable(logging.WARNING)
    try:
        rpc_url, deployment_file, source = _what_to_audit(args, out)
    except NoRunningUp as exc:
        out.print(f"[red]cannot audit[/]: {exc.message}", soft_wrap=True)
        return 2
    try:
        deployment = Deployment.load(deployment_file)
    except DeploymentMissing as exc:
        out.print(f"[red]cannot audit[/]: {exc.message} (or pass --deployment FILE)")
        return 2
    except (ValueError, TypeError, KeyError) as exc:
        out.print(f"[red]cannot audit[/]: {deployment_file} is not a deployment file ({exc!r})")
        return 2
    try:
        if args.json:
            report = audit(rpc_url, deployment, source, block=args.block)
        else:
            report = _audit_with_progress(rpc_url, deployment, source, args.block)
    except LedgerError as exc:
        out.print(f"[red]cannot audit[/] ({exc.code}): {exc.message}")
        return 2
    if args.json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        report.print(console)
    return 0 if report.ok else 1


def _what_to_audit(args: argparse.Namespace, out: Console) -> tuple[str, Path, str]:
    """The chain, the deployment file and the publication to audit, from the flags, else the
    settings, else the running `up` of the state directory (`NoRunningUp` if there is none);
    says which chain it uses."""
    settings = _settings()
    rpc_url = args.rpc or settings.rpc_url
    deployment_file = Path(args.deployment or settings.deployment_file)
    source = args.epochs or str(settings.publish_dir)
    if args.rpc:
        out.print(f"using the chain at {rpc_url} (from --rpc)", soft_wrap=True)
    elif "LABEL_LEDGER_RPC_URL" in os.environ:
        out.print(f"using the chain at {rpc_url} (from LABEL_LEDGER_RPC_URL)", soft_wrap=True)
    else:
        # Neither flag nor setting names a chain: audit the `up` of this directory, or nothing.
        up = running_up(Path(args.state_dir), otherwise="pass --rpc URL (with --deployment)")
        _say_which_up(out, up, Path(args.state_dir))
        rpc_url = up.rpc_url
        if not args.deployment and "LABEL_LEDGER_DEPLOYMENT_FILE" not in os.environ:
            deployment_file = Path(up.deployment_file)
        if not args.epochs and "LABEL_LEDGER_PUBLISH_DIR" not in os.environ:
            source = up.publish_dir
    return rpc_url, deployment_file, source


def _audit_with_progress(
    rpc_url: str, deployment: Deployment, source: str, block: int | None
) -> AuditReport:
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("auditing", total=None)

        def shown(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=max(total, 1))

        return audit(rpc_url, deployment, source, block=block, progress=shown)


def _port(text: str) -> int:
    """A TCP port to listen on, 1-65535: 0 would have the system pick one that nothing prints."""
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, got {value}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="label-ledger", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)
    db_commands.register(commands)

    up = commands.add_parser("up", help="run everything locally: Anvil, contracts, API, jobs")
    up.add_argument("--port", type=_port, default=DEFAULT_API_PORT, help="API port")
    up.add_argument("--state-dir", default=str(STATE_DIR), help="where chain and database live")
    up.add_argument("--fresh", action="store_true", help="start from an empty chain and database")
    up.add_argument(
        "--settle-every", type=float, default=60.0, help="seconds between settlements (0: off)"
    )
    up.set_defaults(handler=cmd_up)

    serve = commands.add_parser(
        "serve",
        help="serve the API on a deployed chain and a database (LABEL_LEDGER_*); the jobs run "
        "in `worker`",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=_port, default=DEFAULT_API_PORT, help="API port")
    serve.add_argument(
        "--workers", type=_positive_int, default=1, help="API processes (about one per core)"
    )
    # serve ran the jobs before `worker` did; --no-jobs is what it is now, and still accepted
    serve.add_argument("--no-jobs", action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(handler=cmd_serve)

    worker = commands.add_parser(
        "worker",
        help="run the background jobs (mirror, reconciliation, settlement, upkeep, "
        "publication) on a deployed chain and a database (LABEL_LEDGER_*)",
    )
    worker.add_argument(
        "--jobs", help=f"only these jobs, comma-separated (default: all of {','.join(JOBS)})"
    )
    worker.set_defaults(handler=cmd_worker)

    deploy = commands.add_parser("deploy", help="deploy the ledger to any EVM JSON-RPC")
    deploy.add_argument("--rpc", required=True, help="JSON-RPC URL of the chain")
    deploy.add_argument(
        "--network",
        help="base, base-sepolia, arbitrum-one, arbitrum-sepolia, optimism, op-sepolia or dev: "
        "the chain must be that network; its USDC is the default payment token "
        "(default: LABEL_LEDGER_NETWORK)",
    )
    deploy.add_argument(
        "--keystore", help="deployer's encrypted keystore (else LABEL_LEDGER_DEPLOYER_KEY)"
    )
    deploy.add_argument("--password-file", help="the keystore's password (else it is asked)")
    deploy.add_argument("--out", default=str(STATE_DIR / "deployment.json"))
    deploy.add_argument("--operator", help="address that proposes epochs (default: deployer)")
    deploy.add_argument("--guardian", help="address that may revoke a pending epoch")
    deploy.add_argument("--pauser", help="address that may pause deposits and claims")
    deploy.add_argument(
        "--timelock", type=int, help="seconds between proposing and accepting an epoch"
    )
    deploy.add_argument("--fee-bps", type=int, help="fee on top of each debit (at most 1000)")
    deploy.add_argument(
        "--payment-token", action="append", default=[], help="allowed payment ERC-20 (repeat)"
    )
    deploy.add_argument(
        "--dev-token", action="store_true", help="also deploy the dUSD faucet token (dev chains)"
    )
    deploy.set_defaults(handler=cmd_deploy)

    keystore = commands.add_parser(
        "keystore", help="write an encrypted keystore file for the operator's key (mode 0600)"
    )
    keystore.add_argument("keystore_command", choices=["new", "import"])
    keystore.add_argument("--out", required=True, help="the keystore file to write")
    keystore.add_argument("--password-file", help="the password's file (else it is asked)")
    keystore.set_defaults(handler=cmd_keystore)

    mirror = commands.add_parser("mirror", help="run the chain mirror on its own")
    mirror.add_argument("--once", action="store_true", help="catch up with the chain, then exit")
    mirror.add_argument(
        "--reconcile",
        action="store_true",
        help="catch up, compare with balanceOf/totalSupply on chain, repair drift; exit 2 on drift",
    )
    mirror.add_argument(
        "--no-repair", action="store_true", help="with --reconcile: report drift, change nothing"
    )
    mirror.add_argument(
        "--rebuild", action="store_true", help="forget the mirrored state and re-read it all"
    )
    mirror.set_defaults(handler=cmd_mirror)

    settle = commands.add_parser("settle", help="settle one epoch now (needs the operator key)")
    settle.set_defaults(handler=cmd_settle)

    push = commands.add_parser(
        "push", help="pay every unclaimed leaf of the accepted epoch (claimMany, pusher's gas)"
    )
    push.add_argument("--batch", type=_positive_int, default=100, help="annotators per transaction")
    push.set_defaults(handler=cmd_push)

    demo = commands.add_parser("demo", help="drive the whole loop against a running instance")
    demo.add_argument(
        "--api", help="the API's URL (default: the `up` running from --state-dir, if any)"
    )
    demo.add_argument("--rpc", help="chain JSON-RPC (default: the one the API reports)")
    demo.add_argument(
        "--state-dir", default=str(STATE_DIR), help="the state directory of the `up` to use"
    )
    demo.add_argument("--items", type=int, default=200)
    demo.add_argument("--annotators", type=int, default=5)
    demo.add_argument(
        "--no-showcase",
        dest="showcase",
        action="store_false",
        help="skip opening a small dataset of every label kind for you to label in the web app",
    )
    demo.set_defaults(handler=cmd_demo)

    audit = commands.add_parser(
        "audit", help="check every payout against the chain and the publication, no database"
    )
    audit.add_argument(
        "--rpc",
        help="JSON-RPC URL of the chain (default: LABEL_LEDGER_RPC_URL, else the chain of the "
        "`up` running from --state-dir, with its deployment and publication)",
    )
    audit.add_argument(
        "--state-dir", default=str(STATE_DIR), help="the state directory of the `up` to audit"
    )
    audit.add_argument(
        "--deployment",
        help=f"deployment file (default: LABEL_LEDGER_DEPLOYMENT_FILE or "
        f"{STATE_DIR / 'deployment.json'})",
    )
    audit.add_argument(
        "--epochs",
        help="the publication: a directory or an http(s) base URL such as "
        "http://HOST/v1/published (default: LABEL_LEDGER_PUBLISH_DIR or "
        f"{STATE_DIR / 'published'})",
    )
    audit.add_argument(
        "--block", type=int, help="audit the chain as of this block (default: the head)"
    )
    audit.add_argument("--json", action="store_true", help="print the report as JSON only")
    audit.set_defaults(handler=cmd_audit)

    publish_command = commands.add_parser(
        "publish", help="write the publication auditors check to a directory (copy it anywhere)"
    )
    publish_command.add_argument(
        "--out", help="directory (default: LABEL_LEDGER_PUBLISH_DIR or .label-ledger/published)"
    )
    publish_command.set_defaults(handler=cmd_publish)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        code: int = args.handler(args)
    except LedgerError as exc:
        console.print(f"[red]error[/] ({exc.code}): {exc.message}")
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
