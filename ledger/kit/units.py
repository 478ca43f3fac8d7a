"""The one place that turns integer base units into display units (never through a float)."""

from __future__ import annotations

#: LABEL, the ledger's own ERC-20, has 6 decimals: `reward_per_label` is in millionths of LABEL.
LABEL_DECIMALS = 6


def format_units(amount: int, decimals: int, *, symbol: str | None = None) -> str:
    """`format_units(13_750_000, 6)` -> "13.75"; exact for any uint256, thousands separated."""
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**decimals)
    text = f"{sign}{whole:,}"
    if fraction:
        text += "." + str(fraction).zfill(decimals).rstrip("0")
    return f"{text} {symbol}" if symbol else text


def short_address(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}"
