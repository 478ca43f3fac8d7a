// How the work on a dataset goes: the server's counts (GET /v1/datasets/{id}/progress) and the
// escrow, what is left of it read from the chain itself, what was paid and refunded as the
// service's chain mirror saw it.
import type { ReactNode } from "react";

import { Amount } from "../chain/Amount";
import { EscrowLeft } from "../chain/EscrowLeft";
import { ErrorNotice } from "../ui/ErrorNotice";
import { type Dataset, useProgress } from "./queries";

function Fact({ name, children }: { name: string; children: ReactNode }) {
  return (
    <div>
      <dt>{name}</dt>
      <dd>{children}</dd>
    </div>
  );
}

export function Progress({ dataset }: { dataset: Dataset }) {
  const { data, error } = useProgress(dataset.id);
  const token = dataset.payment_token;
  return (
    <>
      {error && <ErrorNotice error={error} />}
      <dl className="facts">
        <Fact name="Items">{data ? data.items : "…"}</Fact>
        <Fact name="Items labelled">{data ? data.items_labelled : "…"}</Fact>
        <Fact name="Labels awaiting review">{data ? data.pending : "…"}</Fact>
        <Fact name="Labels verified">{data ? data.verified : "…"}</Fact>
        <Fact name="Labels rejected">{data ? data.rejected : "…"}</Fact>
        <Fact name="Labels paid in an epoch">{data ? data.paid : "…"}</Fact>
        <Fact name="Verified, not paid yet">{data ? data.unpaid : "…"}</Fact>
        <Fact name="Epochs that paid">
          {data ? (data.latest_epoch === null ? "none yet" : `${data.epochs} (latest: epoch ${data.latest_epoch})`) : "…"}
        </Fact>
        {data !== undefined && data.items_set_aside > 0 && <Fact name="Items set aside">{data.items_set_aside}</Fact>}
        {data !== undefined && data.warmup_labels > 0 && (
          <Fact name="Warm-up answers (not paid)">{data.warmup_labels}</Fact>
        )}
        <Fact name="Funded">
          <Amount token={token} value={dataset.chain.funded} />
        </Fact>
        <Fact name="Paid out">
          <Amount token={token} value={dataset.chain.debited} /> and <Amount token={token} value={dataset.chain.fees} /> in
          fees
        </Fact>
        {dataset.chain.refunded > 0 && (
          <Fact name="Refunded">
            <Amount token={token} value={dataset.chain.refunded} />
          </Fact>
        )}
        <Fact name="Escrow left (read from the chain)">
          <EscrowLeft dataset={dataset} refetchMs={15_000} />
        </Fact>
      </dl>
    </>
  );
}
