// The operator's desk: how far the chain mirror trails the chain and what its last
// reconciliation found, the epochs accepted and pending, and settling now.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { Link } from "react-router";

import { api, call, type Schemas } from "../api/client";
import { ApiError } from "../api/errors";
import { EpochFacts } from "../auditor/EpochFacts";
import { EpochsFailure } from "../auditor/NeedsAuditor";
import { useCurrentEpochs } from "../auditor/queries";
import { ErrorNotice } from "../ui/ErrorNotice";
import { RequireSignIn } from "../ui/RequireSignIn";

type Reconciliation = Schemas["ReconciliationOut"];

function orNone(value: number | string | null): string {
  return value === null ? "none yet" : String(value);
}

function LastReconciliation({ last }: { last: Reconciliation | null }) {
  if (last === null) return <p>No reconciliation yet: the mirror has not been compared with the chain.</p>;
  const at = last.checked_at ? new Date(last.checked_at).toLocaleString() : "an unrecorded time";
  return (
    <>
      <p>
        At block {last.block_number}, {at}: {last.checked} values compared with the chain,{" "}
        <strong className={last.drift_count === 0 ? "status-verified" : "status-rejected"}>
          {last.drift_count === 0 ? "no drift" : `${last.drift_count} drifted`}
        </strong>
        {last.repaired_from !== null && `; re-synced from block ${last.repaired_from}`}.
      </p>
      {last.drift.length > 0 && (
        <div className="table-scroll">
          <table>
            <caption>Drift found</caption>
            <thead>
              <tr>
                <th scope="col">What</th>
                <th scope="col">Key</th>
                <th scope="col">Mirror</th>
                <th scope="col">Chain</th>
              </tr>
            </thead>
            <tbody>
              {last.drift.map((d) => (
                <tr key={`${d.what}-${d.key}`}>
                  <td>{d.what}</td>
                  <td>
                    <code className="hash">{d.key}</code>
                  </td>
                  <td>{d.mirror}</td>
                  <td>{d.chain}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function Mirror() {
  const { data, error } = useQuery({
    queryKey: ["mirror-status"],
    queryFn: () => call(api.GET("/v1/mirror/status")),
    refetchInterval: 5000,
  });
  if (error) return <ErrorNotice error={error} />;
  if (!data) return <p className="muted">Loading…</p>;
  return (
    <>
      <dl className="facts">
        <div>
          <dt>Status</dt>
          <dd>{data.status}</dd>
        </div>
        <div>
          <dt>Mirrored up to block</dt>
          <dd>{orNone(data.cursor_block)}</dd>
        </div>
        <div>
          <dt>Chain head</dt>
          <dd>{orNone(data.head_block)}</dd>
        </div>
        <div>
          <dt>Lag</dt>
          <dd>
            {data.lag_blocks === null ? "unknown" : `${data.lag_blocks} ${data.lag_blocks === 1 ? "block" : "blocks"}`} (
            {data.confirmations} kept below the head on purpose)
          </dd>
        </div>
        <div>
          <dt>Deepest reorg it can undo</dt>
          <dd>
            {data.max_reorg_depth} blocks{data.undo_floor !== null && ` (down to block ${data.undo_floor})`}
          </dd>
        </div>
        <div>
          <dt>Last synced</dt>
          <dd>{data.synced_at ? new Date(data.synced_at).toLocaleString() : "never"}</dd>
        </div>
      </dl>
      <h3>Last reconciliation</h3>
      <LastReconciliation last={data.last_reconciliation} />
    </>
  );
}

function CurrentEpochs() {
  const { data, error } = useCurrentEpochs();
  if (error) return <EpochsFailure error={error} />;
  if (!data) return <p className="muted">Loading…</p>;
  return (
    <>
      {data.accepted ? <EpochFacts epoch={data.accepted} heading="h3" /> : <p>No epoch is accepted yet.</p>}
      {data.pending ? <EpochFacts epoch={data.pending} heading="h3" /> : <p>No epoch is pending.</p>}
      <p>
        <Link to="/epochs">Every epoch</Link>
      </p>
    </>
  );
}

function SettleNow() {
  const queryClient = useQueryClient();
  const settle = useMutation({
    mutationFn: () => call(api.POST("/v1/epochs")),
    onSettled: () => queryClient.invalidateQueries(),
  });
  return (
    <>
      <p>
        Pays every verified, unpaid label its dataset&apos;s escrow covers: the service builds the trees and the
        manifest and proposes the roots on chain from the operator key, then accepts the epoch once the
        ledger&apos;s timelock allows. Operators only.
      </p>
      <button type="button" className="primary" disabled={settle.isPending} onClick={() => settle.mutate()}>
        Settle now
      </button>
      <p role="status">
        {settle.isPending && "Settling: proposing the roots on chain…"}
        {settle.data && `Done: ${settle.data.message}.`}
      </p>
      {settle.error instanceof ApiError && settle.error.code === "missing_role" ? (
        <div className="notice notice-error" role="alert">
          <p>The service refused: {settle.error.message}.</p>
          <p className="next-step">
            Only an operator may settle: the address whose key posts the roots, or one the service lists in
            LABEL_LEDGER_OPERATOR_ADDRESSES. Sign in with that wallet, or leave it to the settlement job.
          </p>
        </div>
      ) : (
        settle.error !== null && <ErrorNotice error={settle.error} />
      )}
    </>
  );
}

export default function OperatorPage() {
  return (
    <>
      <h1>Operator</h1>
      <section aria-labelledby="mirror-heading">
        <h2 id="mirror-heading">Chain mirror</h2>
        <Mirror />
      </section>
      <RequireSignIn what="the epochs and to settle">
        <section aria-labelledby="settle-heading">
          <h2 id="settle-heading">Settle</h2>
          <SettleNow />
        </section>
        <section aria-labelledby="current-heading">
          <h2 id="current-heading">Current epochs</h2>
          <CurrentEpochs />
        </section>
      </RequireSignIn>
    </>
  );
}
