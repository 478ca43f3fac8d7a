"""Display units are exact: no float ever touches an amount."""

from __future__ import annotations

from decimal import Decimal, localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.kit.units import LABEL_DECIMALS, format_units, short_address


def test_format_units_trims_and_separates() -> None:
    assert format_units(13_750_000, 6) == "13.75"
    assert format_units(0, 18) == "0"
    assert format_units(1, 18) == "0.000000000000000001"
    assert format_units(55 * 10**LABEL_DECIMALS, LABEL_DECIMALS, symbol="LABEL") == "55 LABEL"
    assert format_units(1, LABEL_DECIMALS) == "0.000001"
    assert format_units(1_234_567 * 10**6, 6) == "1,234,567"


@settings(derandomize=True, max_examples=200)
@given(amount=st.integers(min_value=0, max_value=2**256 - 1), decimals=st.integers(0, 36))
def test_format_units_is_exact_for_every_uint256(amount: int, decimals: int) -> None:
    with localcontext(prec=200):  # Decimal's default 28 digits cannot hold a uint256
        shown = Decimal(format_units(amount, decimals).replace(",", ""))
        assert shown.scaleb(decimals) == amount


def test_short_address_keeps_both_ends() -> None:
    assert short_address("0x7B23709327aBcDEF0123456789aBcdef01234567") == "0x7B23…4567"
