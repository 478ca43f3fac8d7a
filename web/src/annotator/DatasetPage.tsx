// A dataset as an annotator weighs it before taking the work: pay, terms, its buyer's record,
// the instructions.
import { useQuery } from "@tanstack/react-query";
import { lazy, Suspense } from "react";
import { Link, useParams } from "react-router";

import { api, call, type Schemas } from "../api/client";
import { ApiError } from "../api/errors";
import { Amount } from "../chain/Amount";
import { EscrowLeft } from "../chain/EscrowLeft";
import { useService } from "../chain/service";
import { ErrorNotice } from "../ui/ErrorNotice";
import { duration, percent, shortAddress } from "../ui/format";
import { RequireSignIn } from "../ui/RequireSignIn";
import { ItemView } from "./ItemView";
import { parseId, useDataset, useInstructions } from "./queries";
import { warmUpTerms } from "./WarmUp";

const Markdown = lazy(() => import("../ui/Markdown"));

type Dataset = Schemas["DatasetPublic"];

function overlap(dataset: Dataset): string {
  const v = dataset.verification;
  if (v.method === "consensus") {
    return `${v.consensus_k} annotators per item, up to ${v.consensus_max_k} when they disagree (consensus)`;
  }
  const n = v.overlap ?? 1;
  return `${n} ${n === 1 ? "annotator" : "annotators"} per item (reviewed by the buyer's reviewers)`;
}

function BuyerRecord({ record }: { record: Schemas["BuyerRecord"] }) {
  return (
    <dl className="facts">
      <div>
        <dt>Buyer</dt>
        <dd>
          <code title={record.buyer}>{shortAddress(record.buyer)}</code>
        </dd>
      </div>
      <div>
        <dt>Labels decided</dt>
        <dd>{record.labels_decided}</dd>
      </div>
      <div>
        <dt>Rejection rate</dt>
        <dd>{percent(record.rejection_rate)}</dd>
      </div>
      <div>
        <dt>Median review time</dt>
        <dd>{duration(record.median_review_seconds)}</dd>
      </div>
      <div>
        <dt>Disputes</dt>
        <dd>
          {record.disputes_upheld} won by annotators, {record.disputes_denied} denied,{" "}
          {record.disputes_open} open
        </dd>
      </div>
    </dl>
  );
}

function Instructions({ datasetId }: { datasetId: number }) {
  const { data, error } = useInstructions(datasetId);
  if (error) return <ErrorNotice error={error} />;
  if (!data) return <p className="muted">Loading the instructions…</p>;
  return (
    <>
      <p className="muted">
        Version {data.version}
        {data.committed ? ", the one the terms commit to" : ""}; hash <code className="hash">{data.hash}</code>
      </p>
      {data.instructions ? (
        <Suspense fallback={<p className="muted">Loading…</p>}>
          <Markdown text={data.instructions} />
        </Suspense>
      ) : (
        <p>The buyer wrote no instructions.</p>
      )}
      {data.examples.length > 0 && (
        <>
          <h3>Examples</h3>
          <ul className="examples">
            {data.examples.map((example, index) => (
              <li key={index}>
                <ItemView data={example.data} name={`Example ${index + 1}`} />
                <p>
                  Label: <strong>{example.label}</strong>
                  {example.explanation && ` (${example.explanation})`}
                </p>
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}

function Standing({ datasetId }: { datasetId: number }) {
  const { data, error } = useQuery({
    queryKey: ["standing", datasetId],
    queryFn: () =>
      call(
        api.GET("/v1/me/datasets/{dataset_id}/standing", {
          params: { path: { dataset_id: datasetId } },
        }),
      ),
  });
  if (error instanceof ApiError && error.code === "missing_role") {
    return <p>Take the annotator role on your roles page to label here and see your standing.</p>;
  }
  if (error) return <ErrorNotice error={error} />;
  if (!data) return <p className="muted">Loading…</p>;
  return (
    <dl className="facts">
      <div>
        <dt>Score</dt>
        <dd>
          {data.score.toFixed(2)} ({data.tier})
        </dd>
      </div>
      <div>
        <dt>Receives items</dt>
        <dd>{data.receives_items ? "yes" : "no: below the dataset's cutoff"}</dd>
      </div>
      {data.qualification !== "none" && (
        <div>
          <dt>Warm-up</dt>
          <dd>
            {data.qualification}: {data.qualification_answered} of {data.qualification_items} answered
            {data.qualification_correct !== null && `, ${data.qualification_correct} right`}
          </dd>
        </div>
      )}
      <div>
        <dt>Counted from</dt>
        <dd>
          {data.accepted} of {data.decided} reviewed labels accepted, {data.agreed} of {data.compared}{" "}
          agreeing with consensus, {data.gold_correct} of {data.gold_answered} gold answers right
        </dd>
      </div>
    </dl>
  );
}

function DatasetDetails({ datasetId }: { datasetId: number }) {
  const { data: dataset, error } = useDataset(datasetId);
  const { labelToken } = useService();
  if (error) return <ErrorNotice error={error} />;
  if (!dataset) return <p className="muted">Loading…</p>;
  const v = dataset.verification;
  const fee = dataset.chain.fee_bps;
  return (
    <>
      <h1>{dataset.name}</h1>
      {dataset.status === "open" ? (
        <p>
          <Link className="button primary" to={`/datasets/${dataset.id}/label`}>
            Start labelling
          </Link>
        </p>
      ) : (
        <p className="notice">
          This dataset is {dataset.status.replace("_", " ")}: it takes no labels now.
        </p>
      )}
      <h2>Terms</h2>
      <dl className="facts">
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
            {v.reward_tiers && " (scaled 0.5x to 1.5x by your reputation tier)"}
          </dd>
        </div>
        <div>
          <dt>Fee</dt>
          <dd>{fee === null ? "not on chain yet" : `${fee / 100}% on top, paid by the buyer`}</dd>
        </div>
        <div>
          <dt>Overlap</dt>
          <dd>{overlap(dataset)}</dd>
        </div>
        <div>
          <dt>Escrow left (read from the chain)</dt>
          <dd>
            <EscrowLeft dataset={dataset} />
          </dd>
        </div>
        <div>
          <dt>Items</dt>
          <dd>{dataset.item_count}</dd>
        </div>
        <div>
          <dt>Labels</dt>
          <dd>
            {dataset.label_type}
            {dataset.label_type === "classes" && `: ${dataset.label_classes.join(", ")}`}
          </dd>
        </div>
        <div>
          <dt>Item reserved for you</dt>
          <dd>{duration(dataset.leases.seconds)} per item</dd>
        </div>
        {warmUpTerms(dataset) !== null && (
          <div>
            <dt>Warm-up</dt>
            <dd>{warmUpTerms(dataset)}</dd>
          </div>
        )}
        <div>
          <dt>Disputes</dt>
          <dd>a rejection may be disputed for {duration(v.dispute_window_seconds)}</dd>
        </div>
        <div>
          <dt>Terms hash</dt>
          <dd>
            <code className="hash">{dataset.chain.salt}</code>
          </dd>
        </div>
      </dl>
      <h2>Your standing here</h2>
      <Standing datasetId={dataset.id} />
      <h2>The buyer's record</h2>
      <BuyerRecord record={dataset.buyer_record} />
      <h2>Instructions</h2>
      <Instructions datasetId={dataset.id} />
    </>
  );
}

export default function DatasetPage() {
  const datasetId = parseId(useParams().datasetId);
  if (datasetId === null) {
    return (
      <p className="notice" role="alert">
        This address names no dataset. <Link to="/datasets">Find work</Link> among the open ones.
      </p>
    );
  }
  return (
    <RequireSignIn what="this dataset">
      <DatasetDetails datasetId={datasetId} />
    </RequireSignIn>
  );
}
