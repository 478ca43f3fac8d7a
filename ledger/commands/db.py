"""`label-ledger db`: the database's schema.

    label-ledger db upgrade     apply the revisions the database lacks, each shown as it goes
    label-ledger db current     the revision the database is at, and the one this version needs
    label-ledger db check       differences between the models and the revisions (exit 2)
    label-ledger db revision    (developers) write the next revision from the models

Each works on the database LABEL_LEDGER_DATABASE_URL names (by default the SQLite database of
`label-ledger up`, .label-ledger/ledger.sqlite), or on the one `--url` or `--state-dir` names.
`serve` and the other commands refuse a database that is not at this version's revision and say
to run `label-ledger db upgrade`; `up` upgrades its own database itself.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from ledger.kit import migrate
from ledger.kit.config import Settings

console = Console()


def _database_url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url)
    if args.state_dir:
        return f"sqlite:///{Path(args.state_dir) / 'ledger.sqlite'}"
    return Settings().database_url


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url  # noqa: PLC0415 (only to hide a password)

    return escape(make_url(url).render_as_string(hide_password=True))


def cmd_upgrade(args: argparse.Namespace) -> int:
    url = _database_url(args)
    console.print(f"[green]database[/] {_shown(url)}", soft_wrap=True)
    applied = migrate.upgrade(
        url, progress=lambda line: console.print(escape(line), soft_wrap=True)
    )
    head = migrate.head()
    if applied:
        console.print(
            f"[green]upgraded[/]: {len(applied)} revision{'s' if len(applied) != 1 else ''} "
            f"applied, the database is at {head}, this version's revision"
        )
    else:
        console.print(f"already at {head}, this version's revision: nothing to do")
    return 0


def cmd_current(args: argparse.Namespace) -> int:
    url = _database_url(args)
    status = migrate.status(url)
    console.print(f"[green]database[/] {_shown(url)}", soft_wrap=True)
    if status.at_head:
        console.print(f"at revision {status.head}, this version's: up to date")
    elif status.current is None and not status.tables:
        console.print(
            f"empty (no revision): `label-ledger db upgrade` creates its tables at {status.head}"
        )
    elif status.current is None:
        console.print(
            f"no revision recorded: made before migrations ({status.tables} tables). "
            f"`label-ledger db upgrade` brings it to {status.head}"
        )
    elif not status.known:
        console.print(
            f"at revision {status.current}, which this version does not know (its newest is "
            f"{status.head}): a newer label-ledger upgraded it"
        )
    else:
        console.print(
            f"at revision {status.current}; this version needs {status.head}: run "
            "`label-ledger db upgrade` (back the database up first)"
        )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    url = _database_url(args)
    console.print(f"[green]database[/] {_shown(url)}", soft_wrap=True)
    differences = migrate.check(url)
    if not differences:
        console.print(f"the models and revision {migrate.head()} agree: no drift")
        return 0
    console.print(
        f"[red]{len(differences)} difference{'s' if len(differences) != 1 else ''}[/] between "
        f"the models and revision {migrate.head()}:"
    )
    for difference in differences:
        console.print(f"  {escape(difference)}", soft_wrap=True)
    console.print(
        "a model changed without its revision: write one with `label-ledger db revision "
        '--message "..." --rev-id NNNN`, read it, and commit it beside the change'
    )
    return 2


def cmd_revision(args: argparse.Namespace) -> int:
    written = migrate.revision(args.message, args.rev_id, database_url=args.url)
    console.print(
        f"[green]written[/] {escape(str(written))}: read it (it must never drop data), format it "
        "(ruff format), then `label-ledger db check` on a database upgraded to it",
        soft_wrap=True,
    )
    return 0


def _database_url_argument(text: str) -> str:
    """A `--url` SQLAlchemy can read, else a usage error (exit 2) saying what one looks like."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415 (the parser is built on every command)
    from sqlalchemy.exc import ArgumentError  # noqa: PLC0415

    try:
        make_url(text)
    except ArgumentError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a database URL: give sqlite:///path/ledger.sqlite or "
            "postgresql+psycopg://user@host/db"
        ) from None
    return text


def _where(parser: argparse.ArgumentParser) -> None:
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument(
        "--url",
        type=_database_url_argument,
        help="SQLAlchemy URL of the database (default: LABEL_LEDGER_DATABASE_URL)",
    )
    chosen.add_argument(
        "--state-dir", help="the SQLite database of the `label-ledger up` of this state directory"
    )


def register(subparsers: Any) -> None:
    """Adds `db` and its subcommands to the `label-ledger` parser's subparsers."""
    db = subparsers.add_parser(
        "db", help="the database's schema: upgrade it, show its revision, check the models"
    )
    commands = db.add_subparsers(dest="db_command", required=True)

    upgrade = commands.add_parser(
        "upgrade", help="apply the revisions the database lacks (back it up first)"
    )
    _where(upgrade)
    upgrade.set_defaults(handler=cmd_upgrade)

    current = commands.add_parser("current", help="the database's revision and this version's")
    _where(current)
    current.set_defaults(handler=cmd_current)

    check = commands.add_parser(
        "check", help="compare a database at head with the models; exit 2 on any difference"
    )
    _where(check)
    check.set_defaults(handler=cmd_check)

    revision = commands.add_parser(
        "revision", help="(developers) write the next revision from what the models changed"
    )
    revision.add_argument("--message", "-m", required=True, help="what the revision does")
    revision.add_argument("--rev-id", required=True, help="its id, the next number: 0002, ...")
    revision.add_argument(
        "--url",
        type=_database_url_argument,
        help="compare on this database at head (default: a new SQLite database)",
    )
    revision.set_defaults(handler=cmd_revision)


def upgrade_for_up(database_url: str, out: Console) -> None:
    """What `label-ledger up` runs before it starts: its database brought to this version's
    revision (created if new), each revision applied shown on `out`."""
    migrate.upgrade(
        database_url,
        progress=lambda line: out.print(f"[green]db[/]      {escape(line)}", soft_wrap=True),
    )
