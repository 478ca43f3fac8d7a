// One of the buyer's datasets: its terms hash, funding through the wallet, items uploaded from a
// file, reviewers appointed, its instructions and allowlist edited, how the work goes (labels,
// verified, paid, escrow left as the chain holds it), the agreement report, the delivered labels
// downloaded, its media uploaded and the log of who opened them, and closing it for the refund.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Link, useParams } from "react-router";
import { isAddress } from "viem";

import { api, call } from "../api/client";
import { useSession } from "../api/session";
import { Amount } from "../chain/Amount";
import { useService } from "../chain/service";
import { ErrorNotice } from "../ui/ErrorNotice";
import { RequireSignIn } from "../ui/RequireSignIn";
import { Agreement } from "./Agreement";
import { Close } from "./Close";
import { Download } from "./Download";
import { InstructionsEditor, Workforce } from "./Edit";
import { MediaAccess, MediaFiles } from "./Media";
import { Funding } from "./Funding";
import { Progress } from "./Progress";
import { STATUS_WORDS, useBuyerDataset, useReviewers } from "./queries";
import { Upload } from "./Upload";

function parseId(raw: string | undefined): number | null {
  return raw !== undefined && /^[0-9]{1,15}$/.test(raw) ? Number(raw) : null;
}

function Reviewers({ datasetId }: { datasetId: number }) {
  const [address, setAddress] = useState("");
  const [appointed, setAppointed] = useState<string[]>([]);
  const [local, setLocal] = useState<string | null>(null);
  const queryClient = useQueryClient();
  const reviewers = useReviewers(datasetId);
  const appoint = useMutation({
    mutationFn: (reviewer: string) =>
      call(api.POST("/v1/datasets/{dataset_id}/reviewers", { params: { path: { dataset_id: datasetId } }, body: { address: reviewer } })),
    onSuccess: async (_answer, reviewer) => {
      setAppointed((all) => [...all, reviewer]);
      setAddress("");
      await queryClient.invalidateQueries({ queryKey: ["dataset-reviewers", datasetId] });
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    const reviewer = address.trim();
    if (!isAddress(reviewer, { strict: false })) {
      setLocal("Type the reviewer's address: 0x and 40 hexadecimal digits.");
      return;
    }
    setLocal(null);
    appoint.mutate(reviewer);
  }
  return (
    <>
      <p>The address you appoint may accept, correct or reject this dataset's labels.</p>
      {reviewers.error && <ErrorNotice error={reviewers.error} />}
      {reviewers.data &&
        (reviewers.data.length === 0 ? (
          <p>No reviewer appointed yet.</p>
        ) : (
          <ul aria-label="Appointed reviewers">
            {reviewers.data.map((reviewer) => (
              <li key={reviewer.address}>
                <code className="hash">{reviewer.address}</code>, appointed {new Date(reviewer.appointed_at).toLocaleString()}
              </li>
            ))}
          </ul>
        ))}
      <form className="buyer-inline" onSubmit={submit} noValidate>
        <label htmlFor="reviewer-address">Reviewer's address</label>
        <input
          id="reviewer-address"
          value={address}
          spellCheck={false}
          autoComplete="off"
          onChange={(e) => setAddress(e.target.value)}
          aria-invalid={local !== null}
          aria-describedby={local !== null ? "reviewer-error" : undefined}
        />
        <button type="submit" disabled={appoint.isPending}>
          Appoint
        </button>
      </form>
      {local !== null && (
        <p id="reviewer-error" className="buyer-field-error">
          {local}
        </p>
      )}
      {appoint.error && <ErrorNotice error={appoint.error} />}
      <p role="status" className="address-full">
        {appointed.length > 0 && `Appointed in this visit: ${appointed.join(", ")}.`}
      </p>
    </>
  );
}

function BuyerDataset({ datasetId }: { datasetId: number }) {
  const [awaited, setAwaited] = useState<bigint | null>(null);
  const { data: dataset, error } = useBuyerDataset(datasetId, awaited);
  const { labelToken } = useService();
  const current = useSession();
  if (error) return <ErrorNotice error={error} />;
  if (!dataset) return <p className="muted">Loading…</p>;
  const mine = current !== null && dataset.buyer.toLowerCase() === current.address.toLowerCase();
  return (
    <>
      <h1>{dataset.name}</h1>
      <p className={dataset.status === "open" ? "buyer-status buyer-status-open" : "buyer-status"} role="status">
        Status: <strong>{STATUS_WORDS[dataset.status]}</strong>
        {dataset.status === "awaiting_funds" && (awaited !== null ? " (waiting for the service to see the deposit on chain…)" : ": fund it below to open it to annotators")}
        {dataset.status !== "awaiting_funds" && awaited !== null && dataset.chain.funded < awaited && " (waiting for the service to see your top-up on chain…)"}
      </p>
      {!mine && (
        <p className="notice notice-warning">
          This dataset is not yours: only its buyer can fund it, upload items and appoint reviewers.
        </p>
      )}
      <h2>Terms</h2>
      <dl className="facts">
        <div>
          <dt>Terms hash</dt>
          <dd>
            <code className="hash">{dataset.chain.salt}</code>
          </dd>
        </div>
        <div>
          <dt>Pays per verified label</dt>
          <dd>
            <Amount token={dataset.payment_token} value={dataset.price_per_label} />
          </dd>
        </div>
        <div>
          <dt>Reward per label</dt>
          <dd>
            <Amount token={labelToken} value={dataset.reward_per_label} />
          </dd>
        </div>
        <div>
          <dt>Labels</dt>
          <dd>
            {dataset.label_type}
            {dataset.label_type === "classes" && `: ${dataset.label_classes.join(", ")}`}
          </dd>
        </div>
        <div>
          <dt>Verified by</dt>
          <dd>
            {dataset.verification.method === "consensus"
              ? `consensus of ${dataset.verification.consensus_k} annotators (up to ${dataset.verification.consensus_max_k})`
              : `review, ${dataset.verification.overlap} ${dataset.verification.overlap === 1 ? "annotator" : "annotators"} per item`}
          </dd>
        </div>
      </dl>
      <p className="muted">
        The terms hash commits to the price, reward, label schema, verification and instructions: the
        ledger records it when you fund the dataset, and the terms cannot change after that.{" "}
        <Link to={`/datasets/${dataset.id}`}>See the dataset as annotators do</Link>.
      </p>
      {mine && (
        <>
          <h2>Funding</h2>
          {dataset.status === "awaiting_funds" || dataset.status === "open" ? (
            <Funding dataset={dataset} onSent={setAwaited} />
          ) : (
            <p>This dataset is {STATUS_WORDS[dataset.status]}: the ledger takes no more funds for it.</p>
          )}
          <h2>Media</h2>
          <MediaFiles datasetId={dataset.id} />
          <h2>Items</h2>
          <Upload datasetId={dataset.id} />
          <h2>Reviewers</h2>
          <Reviewers datasetId={dataset.id} />
          <h2>Instructions</h2>
          <InstructionsEditor dataset={dataset} />
          <h2>Who may label</h2>
          <Workforce dataset={dataset} />
          <h2>Progress</h2>
          <Progress dataset={dataset} />
          <h2>Agreement</h2>
          <Agreement datasetId={dataset.id} labelType={dataset.label_type} />
          <h2>Delivered labels</h2>
          <Download datasetId={dataset.id} />
          <h2>Who opened your media</h2>
          <MediaAccess datasetId={dataset.id} />
          {dataset.status !== "awaiting_funds" && (
            <>
              <h2>Close and refund</h2>
              <Close dataset={dataset} />
            </>
          )}
        </>
      )}
    </>
  );
}

export default function BuyerDatasetPage() {
  const datasetId = parseId(useParams().datasetId);
  if (datasetId === null) {
    return (
      <p className="notice" role="alert">
        This address names no dataset. Go back to <Link to="/buyer">the datasets you buy</Link>.
      </p>
    );
  }
  return (
    <RequireSignIn what="this dataset">
      <BuyerDataset datasetId={datasetId} />
    </RequireSignIn>
  );
}
