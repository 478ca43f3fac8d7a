// Closing a dataset on the ledger, as GET /v1/datasets/{id}/close says: the buyer's wallet sends
// requestClose (no new labels; those made before are still decided and paid), then, after the
// ledger's grace period, finalizeClose, which refunds what the escrow still holds. The refund is
// read from the DatasetClosed event of the wallet's own transaction.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { type Address, parseAbi, parseEventLogs } from "viem";
import { useAccount, useConfig, useWriteContract } from "wagmi";
import { waitForTransactionReceipt } from "wagmi/actions";

import { api, call } from "../api/client";
import { Amount } from "../chain/Amount";
import { useService } from "../chain/service";
import { ErrorNotice } from "../ui/ErrorNotice";
import type { Dataset } from "./queries";

const CLOSE_ABI = parseAbi([
  "function requestClose(uint256 datasetId)",
  "function finalizeClose(uint256 datasetId) returns (uint256 refund)",
  "event DatasetClosed(uint256 indexed datasetId, address indexed buyer, uint256 refund)",
]);

const STEPS = { requestClose: "Request the close", finalizeClose: "Finalize the close and take the refund" } as const;
type Step = keyof typeof STEPS;

function when(unix: number): string {
  return new Date(unix * 1000).toLocaleString();
}

export function Close({ dataset }: { dataset: Dataset }) {
  const { chain } = useService();
  const config = useConfig();
  const queryClient = useQueryClient();
  const { isConnected } = useAccount();
  const { writeContractAsync } = useWriteContract();
  const [sentFrom, setSentFrom] = useState<string | null>(null);
  const [tx, setTx] = useState<{ what: Step; state: string; hash?: string } | null>(null);
  const [refund, setRefund] = useState<bigint | null>(null);
  const [understood, setUnderstood] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);
  const steps = useQuery({
    queryKey: ["dataset-close", dataset.id],
    queryFn: () => call(api.GET("/v1/datasets/{dataset_id}/close", { params: { path: { dataset_id: dataset.id } } })),
    // Poll while the grace period runs: the ledger's clock decides when finalizeClose may go.
    refetchInterval: (query) => {
      const data = query.state.data;
      return data !== undefined && data.status === "closing" && data.next === null ? 5000 : false;
    },
  });
  const status = steps.data?.status;

  /** Until the service's mirror has seen the transaction: its status moves on from `from`. */
  async function awaitMirror(from: string) {
    setSentFrom(from);
    const deadline = Date.now() + 120_000;
    try {
      while (Date.now() < deadline) {
        const answer = await steps.refetch();
        if (answer.data !== undefined && answer.data.status !== from) break;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    } finally {
      setSentFrom(null);
    }
    await Promise.all([
      queryClient.invalidateQueries({ queryKey: ["dataset", dataset.id] }),
      queryClient.invalidateQueries({ queryKey: ["dataset-progress", dataset.id] }),
      queryClient.invalidateQueries({ queryKey: ["readContract"] }),
    ]);
  }

  async function send(what: Step, to: string) {
    setFailure(null);
    if (to.toLowerCase() !== dataset.chain.ledger.toLowerCase()) {
      setFailure(new Error(`The service named ${to} for ${what}, not the ledger ${dataset.chain.ledger}: nothing was sent.`));
      return;
    }
    setTx({ what, state: "waiting for your wallet" });
    try {
      const hash = await writeContractAsync({
        address: dataset.chain.ledger as Address,
        abi: CLOSE_ABI,
        functionName: what,
        args: [BigInt(dataset.chain.dataset_id)],
        chainId: chain.id,
      });
      setTx({ what, state: "sent, waiting for the chain", hash });
      const receipt = await waitForTransactionReceipt(config, { hash, chainId: chain.id });
      if (receipt.status !== "success") throw new Error(`The ${what} transaction ${hash} reverted on chain.`);
      setTx({ what, state: "confirmed", hash });
      if (what === "finalizeClose") {
        const closed = parseEventLogs({ abi: CLOSE_ABI, eventName: "DatasetClosed", logs: receipt.logs });
        setRefund(closed[0]?.args.refund ?? 0n);
      }
      setUnderstood(false);
      await awaitMirror(status ?? "open");
    } catch (error) {
      setFailure(error);
      setTx((current) => current && { ...current, state: "failed" });
    }
  }

  if (steps.error) return <ErrorNotice error={steps.error} />;
  if (!steps.data) return <p className="muted">Reading what closing takes…</p>;
  const next = steps.data.next;
  const what = next && next.function in STEPS ? (next.function as Step) : null;
  const busy = tx !== null && (tx.state === "waiting for your wallet" || tx.state.startsWith("sent"));
  return (
    <>
      <p>
        Closing takes two transactions from your wallet: requestClose stops new labels (labels made before it are still
        decided and paid), and after the ledger's grace period finalizeClose refunds what the escrow still holds to you.
      </p>
      <p role="status">
        {steps.data.status === "open" && "Open: send requestClose to stop new labels."}
        {steps.data.status === "closing" &&
          (what === "finalizeClose"
            ? "Closing, and the grace period is over: send finalizeClose for the refund (anyone may send it)."
            : `Closing: finalizeClose can be sent from ${steps.data.due_at === null ? "the end of the grace period" : when(steps.data.due_at)}, when the ledger's grace period ends.`)}
        {steps.data.status === "closed" && (
          <>
            Closed: <Amount token={dataset.payment_token} value={dataset.chain.refunded} /> was refunded.
          </>
        )}
        {sentFrom !== null && " Waiting for the service to see your transaction on chain…"}
      </p>
      {refund !== null && (
        <p className="notice" role="status">
          Refunded to your wallet: <Amount token={dataset.payment_token} value={refund} />.
        </p>
      )}
      {what === "requestClose" && (
        <label className="buyer-choice">
          <input type="checkbox" checked={understood} onChange={(e) => setUnderstood(e.target.checked)} /> Annotators
          get no new items from this dataset once I close it
        </label>
      )}
      {what !== null && next !== null && next !== undefined && (
        <p>
          <button
            type="button"
            className="primary"
            disabled={busy || !isConnected || sentFrom !== null || (what === "requestClose" && !understood)}
            onClick={() => void send(what, next.to)}
          >
            {STEPS[what]}
          </button>
        </p>
      )}
      {what !== null && !isConnected && <p className="notice">Connect your wallet at the top of the page to close the dataset.</p>}
      {tx !== null && (
        <ol className="buyer-txs" aria-label="Close transactions">
          <li>
            <strong>{tx.what}</strong>: <span>{tx.state}</span>
            {tx.hash && (
              <>
                {" "}
                <code className="hash">{tx.hash}</code>
              </>
            )}
          </li>
        </ol>
      )}
      {failure !== null && <ErrorNotice error={failure} />}
    </>
  );
}
