"""The README's table of label kinds, written from the registry, so the documentation lists every
kind with its shape and measure exactly as the code has them (`python -m ledger.kinds.table`
prints it; a unit test keeps the README's copy equal to it)."""

from __future__ import annotations

from ledger.kinds import KINDS

BEGIN = "<!-- kinds table: python -m ledger.kinds.table -->"
END = "<!-- end of kinds table -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown() -> str:
    """The table, between its BEGIN and END markers."""
    rows = [
        BEGIN,
        "| label type | for | a label is | `label_classes` | agreement |",
        "|---|---|---|---|---|",
    ]
    for kind in KINDS.values():
        classes = kind.classes_are if kind.needs_classes else "none"
        measure = "reviewed only" if kind.reviewed_only else kind.measure
        rows.append(
            f"| `{kind.name}` | {', '.join(kind.media)} | {_cell(kind.summary)} | "
            f"{_cell(classes)} | {_cell(measure)} |"
        )
    rows.append(END)
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown())  # noqa: T201
