// A dataset's escrow as the LabelLedger contract holds it, read from the chain through wagmi's
// public client (the service's public RPC, or the connected wallet where it names none), never
// from the API's mirror: what annotators are paid from is what the chain says is there.
import { parseAbi } from "viem";
import { useReadContract } from "wagmi";

import { useService } from "./service";

/** The ledger's dataset view (contracts/interfaces/ILabelLedger.sol). */
export const ledgerDatasetView = parseAbi([
  "struct Dataset { address buyer; uint16 token; uint16 feeBps; uint8 status; uint40 closeRequestedAt; uint128 available; uint128 debited; }",
  "function dataset(uint256 datasetId) view returns (Dataset)",
]);

/** ILabelLedger.DatasetStatus, in the order the enum declares it. */
const STATUSES = ["none", "open", "closing", "closed"] as const;
export type EscrowStatus = (typeof STATUSES)[number];

export interface Escrow {
  /** "none": the ledger never saw this dataset (not funded yet). */
  status: EscrowStatus;
  /** Funded and not yet debited nor refunded, in the payment token's base units. */
  available: bigint;
  /** Debited by epochs, fees excluded. */
  debited: bigint;
  feeBps: number;
  /** Unix time the buyer asked to close it; 0 when they have not. */
  closeRequestedAt: number;
}

/** The escrow of the dataset the ledger knows as `chainDatasetId` (0x + 64 hex, the API's
 * `chain.dataset_id`), read on the service's chain; `refetchMs` polls it. */
export function useEscrow(chainDatasetId: string, refetchMs: number | false = false) {
  const { chain, ledger } = useService();
  const read = useReadContract({
    address: ledger,
    abi: ledgerDatasetView,
    functionName: "dataset",
    args: [BigInt(chainDatasetId)],
    chainId: chain.id,
    query: { refetchInterval: refetchMs, retry: 1 },
  });
  const escrow: Escrow | undefined = read.data && {
    status: STATUSES[read.data.status] ?? "none",
    available: read.data.available,
    debited: read.data.debited,
    feeBps: read.data.feeBps,
    closeRequestedAt: read.data.closeRequestedAt,
  };
  return { escrow, error: read.error, refetch: read.refetch };
}
