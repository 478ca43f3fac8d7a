// The disputes you may decide (GET /v1/disputes/queue): a reviewer of the dataset other than the
// one who rejected the label, or an operator. Each shows the rejection's reason, the annotator's
// comment, the disputed value beside its item (shown as the annotator saw it) and the label's
// history; upholding (the label is verified by appeal and paid next
// epoch) or denying takes a reason.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Link } from "react-router";

import { useDataset } from "../annotator/queries";
import { api, call, type Schemas } from "../api/client";
import { ErrorNotice } from "../ui/ErrorNotice";
import { RequireSignIn } from "../ui/RequireSignIn";
import { shortAddress } from "../ui/format";
import { ItemShown } from "./ItemShown";
import { LabelValue } from "./LabelValue";

type Dispute = Schemas["DisputePublic"];
type ToDecide = Schemas["DisputeToDecide"];
type Verdict = Schemas["DisputeVerdict"];

const QUEUE = ["dispute-queue"];

function History({ labelId }: { labelId: number }) {
  const history = useQuery({
    queryKey: ["label-history", labelId],
    queryFn: () =>
      call(api.GET("/v1/labels/{label_id}/history", { params: { path: { label_id: labelId } } })),
  });
  if (history.error) return <ErrorNotice error={history.error} />;
  if (history.data === undefined) return <p className="muted">Reading the label's history…</p>;
  return (
    <ol className="reviewer-history" aria-label={`History of label ${labelId}`}>
      {history.data.events.map((event, index) => (
        <li key={index}>
          <time dateTime={event.at}>{new Date(event.at).toLocaleString()}</time>: {event.kind}
          {event.actor !== null && ` by ${shortAddress(event.actor)}`}
          {event.detail !== null && event.detail !== "" && ` (${event.detail})`}
        </li>
      ))}
    </ol>
  );
}

function DisputeCard({ dispute, onDecided }: { dispute: ToDecide; onDecided: (answer: Dispute) => void }) {
  const dataset = useDataset(dispute.dataset_id);
  const labelType = dataset.data?.label_type;
  const [reason, setReason] = useState("");
  const [verdict, setVerdict] = useState<Verdict>("uphold");
  const decide = useMutation({
    mutationFn: (body: Schemas["DisputeDecision"]) =>
      call(
        api.POST("/v1/disputes/{dispute_id}/decision", {
          params: { path: { dispute_id: dispute.id } },
          body,
        }),
      ),
    onSuccess: onDecided,
  });
  const reasonId = `dispute-${dispute.id}-reason`;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (reason.trim() === "") return;
    decide.mutate({ verdict, reason: reason.trim() });
  }

  return (
    <article className="reviewer-dispute" aria-labelledby={`dispute-${dispute.id}`}>
      <h2 id={`dispute-${dispute.id}`}>
        Dispute {dispute.id}: label {dispute.label_id} on item {dispute.external_id} of{" "}
        {dataset.data?.name ?? `dataset ${dispute.dataset_id}`}
      </h2>
      {dataset.error && <ErrorNotice error={dataset.error} />}
      <div className="item-frame">
        <p className="item-key">The item, as the annotator saw it</p>
        <ItemShown
          data={dispute.item_data}
          value={dispute.value}
          labelType={labelType}
          name={`Item ${dispute.external_id}`}
        />
      </div>
      <div className="item-frame">
        <p className="item-key">The disputed label</p>
        <LabelValue value={dispute.value} labelType={labelType} />
      </div>
      <dl className="reviewer-facts">
        <dt>Annotator</dt>
        <dd>{shortAddress(dispute.annotator)}</dd>
        <dt>Rejected by</dt>
        <dd>{dispute.rejected_by !== null ? shortAddress(dispute.rejected_by) : "the dataset's gold or consensus"}</dd>
        <dt>Why it was rejected</dt>
        <dd>{dispute.rejection_reason ?? "no reason recorded"}</dd>
        <dt>The annotator's comment</dt>
        <dd>{dispute.comment}</dd>
      </dl>
      <h3>History</h3>
      <History labelId={dispute.label_id} />
      <form onSubmit={submit} className="reviewer-form">
        <fieldset>
          <legend>Your decision</legend>
          <label>
            <input type="radio" name={`verdict-${dispute.id}`} checked={verdict === "uphold"} onChange={() => setVerdict("uphold")} />{" "}
            Uphold: the label is right; it is verified by appeal and paid next epoch
          </label>
          <label>
            <input type="radio" name={`verdict-${dispute.id}`} checked={verdict === "deny"} onChange={() => setVerdict("deny")} />{" "}
            Deny: the rejection stands
          </label>
        </fieldset>
        <label htmlFor={reasonId}>Reason for your decision (required)</label>
        <textarea id={reasonId} value={reason} required rows={2} onChange={(event) => setReason(event.target.value)} />
        {decide.error && <ErrorNotice error={decide.error} />}
        <button type="submit" className="primary" disabled={decide.isPending}>
          {verdict === "uphold" ? "Uphold the dispute" : "Deny the dispute"}
        </button>
      </form>
    </article>
  );
}

function Disputes() {
  const queryClient = useQueryClient();
  const queue = useQuery({ queryKey: QUEUE, queryFn: () => call(api.GET("/v1/disputes/queue")) });
  const [decided, setDecided] = useState<Dispute[]>([]);

  function onDecided(answer: Dispute) {
    setDecided((done) => [...done, answer]);
    queryClient.setQueryData<ToDecide[]>(QUEUE, (rest) => (rest ?? []).filter((d) => d.id !== answer.id));
  }

  return (
    <>
      <p className="workspace-meta">
        <span role="status">
          Decided {decided.length} {decided.length === 1 ? "dispute" : "disputes"}
          {decided.map((d) => `; dispute ${d.id} ${d.status}`).join("")}
        </span>
        {" · "}
        <Link to="/review">The review queue</Link>
      </p>
      {queue.isPending && <p className="muted">Reading the disputes…</p>}
      {queue.error && (
        <ErrorNotice
          error={queue.error}
          action={
            <button type="button" onClick={() => void queue.refetch()}>
              Try again
            </button>
          }
        />
      )}
      {queue.data !== undefined && queue.data.length === 0 && (
        <div className="notice">
          <p>No dispute waits for you</p>
          <p className="next-step">
            An annotator may dispute a rejection within the dataset's dispute window; a reviewer
            other than the one who rejected it decides. If you review no dataset, a dataset's buyer
            appoints reviewers by address.
          </p>
        </div>
      )}
      {queue.data?.map((dispute) => <DisputeCard key={dispute.id} dispute={dispute} onDecided={onDecided} />)}
    </>
  );
}

export default function DisputesPage() {
  return (
    <>
      <h1>Disputes</h1>
      <p>
        Annotators dispute rejections they think wrong. Read the reason, the comment and the
        history, then uphold or deny, saying why.
      </p>
      <RequireSignIn what="the disputes you may decide">
        <Disputes />
      </RequireSignIn>
    </>
  );
}
