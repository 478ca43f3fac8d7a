// A token's symbol and decimals, read from the chain (ERC-20 symbol()/decimals()), never assumed;
// and the one place that turns base units into what people read.
import { type Address, erc20Abi, formatUnits } from "viem";
import { useReadContracts } from "wagmi";

export interface TokenFacts {
  symbol: string;
  decimals: number;
}

export function useToken(token: Address): {
  facts: TokenFacts | undefined;
  error: Error | null;
} {
  const { data, error } = useReadContracts({
    allowFailure: false,
    contracts: [
      { address: token, abi: erc20Abi, functionName: "symbol" },
      { address: token, abi: erc20Abi, functionName: "decimals" },
    ],
    // Symbols and decimals do not change: read once per token and page load.
    query: { staleTime: Infinity, gcTime: Infinity, retry: 1 },
  });
  return { facts: data ? { symbol: data[0], decimals: data[1] } : undefined, error };
}

/** Base units as token units: 250000 with 6 decimals is "0.25". */
export function tokenUnits(value: bigint | number | string, decimals: number): string {
  return formatUnits(BigInt(value), decimals);
}
