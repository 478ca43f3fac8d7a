import type { Address } from "viem";

import { tokenUnits, useToken } from "./tokens";

/** An amount in token units with the token's symbol, e.g. "0.25 dUSD". */
export function Amount({ token, value }: { token: string; value: bigint | number | string }) {
  const { facts, error } = useToken(token as Address);
  if (facts) {
    return (
      <span className="amount">
        {tokenUnits(value, facts.decimals)} {facts.symbol}
      </span>
    );
  }
  if (error) {
    return (
      <span className="amount" title={error.message}>
        {String(value)} base units of {token} (its symbol could not be read from the chain)
      </span>
    );
  }
  return <span className="amount">…</span>;
}
