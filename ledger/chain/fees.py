"""What our transactions offer to pay for gas: EIP-1559 (type-2) fees under a configured cap.

- The tip (`maxPriorityFeePerGas`) is the node's `eth_maxPriorityFeePerGas`, else the median
  tip of the last blocks (`eth_feeHistory`), else `FALLBACK_TIP`.
- `maxFeePerGas = min(cap, 2 * baseFee + tip)`, baseFee being the pending block's: twice the
  base fee keeps the transaction includable through about six full blocks in a row (each may
  raise the base fee by 12.5%), and the unused part is never charged.
- The cap (`LABEL_LEDGER_MAX_FEE_PER_GAS_GWEI`) is never exceeded: when the base fee alone is
  above it, `GasPriceAboveCap` says so and nothing is signed.
- A replacement (same nonce) must raise both the tip and the max fee by at least 12.5%, or
  nodes refuse it as underpriced (geth asks 10%, others 12.5%): `replacement_fees`.
- A chain without EIP-1559 (no base fee in its blocks) gets a legacy `gasPrice` under the cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from web3 import Web3
from web3.exceptions import Web3RPCError

from ledger.kit.errors import Conflict

GWEI = 10**9
DEFAULT_MAX_FEE_GWEI = 100.0
FALLBACK_TIP = GWEI // 1000  # 0.001 gwei, what rollups' sequencers usually ask
BUMP_NUMERATOR, BUMP_DENOMINATOR = 9, 8  # +12.5%


class GasPriceAboveCap(Conflict):
    code = "gas_price_above_cap"


def gwei(wei: int) -> str:
    """`wei` in gwei for people: "1.5 gwei", "0.001 gwei"."""
    text = f"{Decimal(wei) / GWEI:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} gwei"


def cap_wei(max_fee_per_gas_gwei: float) -> int:
    if max_fee_per_gas_gwei <= 0:
        raise ValueError(f"the gas price cap must be positive, got {max_fee_per_gas_gwei} gwei")
    return int(Decimal(str(max_fee_per_gas_gwei)) * GWEI)


def bumped(value: int) -> int:
    """`value` raised by 12.5%, rounded up: the least a replacement may offer."""
    return -(-value * BUMP_NUMERATOR // BUMP_DENOMINATOR)


@dataclass(frozen=True)
class FeeQuote:
    """Fees to sign with. `base_fee` None: a legacy chain, `max_fee` is then the gasPrice."""

    base_fee: int | None
    max_priority_fee: int
    max_fee: int

    def params(self) -> dict[str, Any]:
        if self.base_fee is None:
            return {"gasPrice": self.max_fee}
        return {"maxFeePerGas": self.max_fee, "maxPriorityFeePerGas": self.max_priority_fee}


def _above_cap(what: str, wanted: int, cap: int) -> GasPriceAboveCap:
    return GasPriceAboveCap(
        f"{what} is {gwei(wanted)}, above the cap of {gwei(cap)} per gas "
        "(LABEL_LEDGER_MAX_FEE_PER_GAS_GWEI): nothing was signed. Wait for the network's fees "
        "to fall and try again, or raise the cap if paying that much is acceptable."
    )


def pending_base_fee(w3: Web3) -> int | None:
    """The base fee the next block charges; None on a chain without EIP-1559."""
    try:
        block = w3.eth.get_block("pending")
        base = block.get("baseFeePerGas")
        if base is not None:
            return int(base)
    except (ValueError, Web3RPCError):
        pass
    latest = w3.eth.get_block("latest").get("baseFeePerGas")
    # the next block may charge at most 12.5% more than the latest
    return None if latest is None else bumped(int(latest))


def suggested_tip(w3: Web3) -> int:
    try:
        return int(w3.eth.max_priority_fee)
    except (ValueError, Web3RPCError):
        pass
    try:
        history = w3.eth.fee_history(5, "latest", [50])
        tips = sorted(int(row[0]) for row in history.get("reward", []) if row)
        if tips:
            return tips[len(tips) // 2]
    except (ValueError, Web3RPCError):
        pass
    return FALLBACK_TIP


def quote(w3: Web3, cap: int) -> FeeQuote:
    """Fees for a new transaction, never above `cap` wei per gas."""
    base = pending_base_fee(w3)
    if base is None:
        price = int(w3.eth.gas_price)
        if price > cap:
            raise _above_cap("the chain's gas price", price, cap)
        return FeeQuote(base_fee=None, max_priority_fee=0, max_fee=price)
    if base > cap:
        raise _above_cap("the chain's base fee", base, cap)
    tip = suggested_tip(w3)
    max_fee = min(cap, 2 * base + tip)
    return FeeQuote(base_fee=base, max_priority_fee=min(tip, max_fee), max_fee=max_fee)


def replacement_fees(w3: Web3, cap: int, *, max_fee: int, max_priority_fee: int) -> FeeQuote:
    """Fees for a transaction replacing one that offered `max_fee` / `max_priority_fee`
    (for a legacy one both are its gasPrice): each at least 12.5% more, and at least what a
    new transaction would offer now; never above `cap`."""
    now = quote(w3, cap)
    least_max, least_tip = bumped(max_fee), bumped(max_priority_fee)
    if now.base_fee is None:
        price = max(least_max, now.max_fee)
        if price > cap:
            raise _above_cap("a replacement's gas price (12.5% above the stuck one)", price, cap)
        return FeeQuote(base_fee=None, max_priority_fee=0, max_fee=price)
    if least_max > cap:
        raise _above_cap("a replacement's max fee (12.5% above the stuck one)", least_max, cap)
    tip = max(least_tip, now.max_priority_fee)
    new_max = min(cap, max(least_max, 2 * now.base_fee + tip))
    if least_tip > new_max:
        raise _above_cap("a replacement's tip (12.5% above the stuck one)", least_tip, cap)
    return FeeQuote(base_fee=now.base_fee, max_priority_fee=min(tip, new_max), max_fee=new_max)


__all__ = [
    "DEFAULT_MAX_FEE_GWEI",
    "GWEI",
    "FeeQuote",
    "GasPriceAboveCap",
    "bumped",
    "cap_wei",
    "gwei",
    "quote",
    "replacement_fees",
]
