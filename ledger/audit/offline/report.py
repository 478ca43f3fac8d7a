"""What the audit answers: one `CheckResult` per check, the `AuditReport` of them all, as JSON
or as tables for a terminal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

PASSED: Final = "pass"
FAILED: Final = "fail"
PENDING: Final = "pending"

SHOWN_ROWS: Final = 20  # rows per check in the human output (the JSON has them all)

#: (stage, done, total): what the audit is doing, for a progress bar.
Progress = Callable[[str, int, int], None]
Row = dict[str, str]


@dataclass
class CheckResult:
    name: str
    status: str  # pass, fail or pending
    summary: str
    rows: list[Row] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "summary": self.summary,
            "rows": self.rows,
        }


@dataclass
class AuditReport:
    block: int
    chain_id: int
    ledger: str
    checks: list[CheckResult]

    @property
    def ok(self) -> bool:
        """No check failed (pending ones are not failures)."""
        return all(c.status != FAILED for c in self.checks)

    def check(self, name: str) -> CheckResult:
        return next(c for c in self.checks if c.name == name)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "block": self.block,
            "chainId": self.chain_id,
            "ledger": self.ledger,
            "checks": [c.to_json() for c in self.checks],
        }

    def renderable(self, max_rows: int = SHOWN_ROWS) -> RenderableType:
        """A table of the checks, then the first `max_rows` rows of each check not passed."""
        title = f"audit of ledger {self.ledger} on chain {self.chain_id} at block {self.block}"
        table = Table(title=title)
        table.add_column("check")
        table.add_column("status")
        table.add_column("summary", overflow="fold")
        styles = {PASSED: "green", FAILED: "bold red", PENDING: "yellow"}
        for check in self.checks:
            table.add_row(check.name, Text(check.status, style=styles[check.status]), check.summary)
        parts: list[RenderableType] = [table]
        for check in self.checks:
            if not check.rows:
                continue
            columns = list(dict.fromkeys(k for row in check.rows[:max_rows] for k in row))
            shown = min(max_rows, len(check.rows))
            rows = Table(title=f"{check.name}: {shown} of {len(check.rows)} row(s)")
            for column in columns:
                rows.add_column(column, overflow="fold")
            for row in check.rows[:max_rows]:
                rows.add_row(*(row.get(c, "") for c in columns))
            parts.append(rows)
        verdict = (
            Text("every check passed or is pending", style="green")
            if self.ok
            else Text(
                "FAILED: " + ", ".join(c.name for c in self.checks if c.status == FAILED),
                style="bold red",
            )
        )
        parts.append(verdict)
        return Group(*parts)

    def print(self, console: Console, max_rows: int = SHOWN_ROWS) -> None:
        console.print(self.renderable(max_rows))


def result(name: str, rows: list[Row], ok: str, *, pending: list[Row] | None = None) -> CheckResult:
    """A check's result from the rows at fault: failed if there are any (the pending ones
    follow them), else pending if some cannot be decided yet, else passed with `ok` as its
    summary."""
    if rows:
        summary = f"{len(rows)} problem(s); first: {_describe(rows[0])}"
        return CheckResult(name, FAILED, summary, rows + (pending or []))
    if pending:
        return CheckResult(name, PENDING, f"{ok}; {len(pending)} pending", pending)
    return CheckResult(name, PASSED, ok)


def _describe(row: Row) -> str:
    """The first row in a few words: where (epoch, file, dataset or account), then what."""
    where = [f"{k} {row[k]}" for k in ("epoch", "file", "token") if k in row]
    for key in ("account", "annotator", "dataset"):
        if key in row:
            where.append(f"{key} {row[key][:10]}...")
            break
    return f"{', '.join(where)}: {row.get('problem', '')}" if where else row.get("problem", "")
