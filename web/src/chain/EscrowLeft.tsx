import { Amount } from "./Amount";
import { useEscrow } from "./escrow";

/** What the dataset's escrow still holds, as the chain says (see escrow.ts), in token units. */
export function EscrowLeft({ dataset, refetchMs = false }: { dataset: { payment_token: string; chain: { dataset_id: string } }; refetchMs?: number | false }) {
  const { escrow, error } = useEscrow(dataset.chain.dataset_id, refetchMs);
  if (error) {
    return (
      <span className="escrow-unread">
        could not be read from the chain ({error.name}): connect your wallet, or reload the page once the chain answers
      </span>
    );
  }
  if (!escrow) return <span>reading the chain…</span>;
  return (
    <span>
      <Amount token={dataset.payment_token} value={escrow.available} />
      {escrow.status === "none" && " (not on the ledger yet)"}
    </span>
  );
}
