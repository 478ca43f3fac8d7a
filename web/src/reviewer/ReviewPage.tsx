// The review queue: the pending labels of the datasets you review, one at a time, oldest first.
// Keys: a accepts, c corrects (choose the corrected value), r rejects (the reason is required;
// Enter sends). Each decision is one POST /v1/labels/{id}/review; the next label shows at once
// from the queue already in hand, which is read again when it runs out. The item shows as the
// annotator's workspace showed it, with the label beside it.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useCallback, useEffect, useRef, useState } from "react";
import { Link } from "react-router";

import { useDataset } from "../annotator/queries";
import { api, call, type Schemas } from "../api/client";
import { ApiError } from "../api/errors";
import { ErrorNotice } from "../ui/ErrorNotice";
import { RequireSignIn } from "../ui/RequireSignIn";
import { shortAddress } from "../ui/format";
import { ItemShown } from "./ItemShown";
import { LabelValue } from "./LabelValue";

type Label = Schemas["LabelPublic"];
type Entry = Schemas["ReviewEntry"];
type Mode = "decide" | "correct" | "reject";

const CLASS_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9"];
const QUEUE = ["review-queue"];

function typing(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))
  );
}

function NotAReviewer() {
  return (
    <div className="notice">
      <p>You do not review any dataset yet.</p>
      <p className="next-step">
        A dataset's buyer appoints its reviewers by address, which gives them the reviewer role:
        send your address to the buyer. Once appointed, reload this page: the labels to review
        show here, and the disputes you may decide under Disputes to decide.
      </p>
    </div>
  );
}

function Reviewing({ label, onDone }: { label: Entry; onDone: (answer: Label) => void }) {
  const dataset = useDataset(label.dataset_id);
  const labelType = dataset.data?.label_type;
  const classes = dataset.data?.label_classes ?? [];
  const [mode, setMode] = useState<Mode>("decide");
  const [reason, setReason] = useState("");
  const [corrected, setCorrected] = useState(label.value);
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const busyRef = useRef(false);
  const reasonInput = useRef<HTMLInputElement>(null);
  const correctedInput = useRef<HTMLInputElement>(null);
  const firstChoice = useRef<HTMLButtonElement>(null);

  const send = useCallback(
    async (body: Schemas["ReviewCreate"]) => {
      if (busyRef.current) return; // one decision at a time
      busyRef.current = true;
      setBusy(true);
      setFailure(null);
      try {
        const answer = await call(
          api.POST("/v1/labels/{label_id}/review", { params: { path: { label_id: label.id } }, body }),
        );
        onDone(answer);
      } catch (error) {
        setFailure(error);
      } finally {
        busyRef.current = false;
        setBusy(false);
      }
    },
    [label.id, onDone],
  );

  const otherClasses = classes.filter((value) => value !== label.value);

  useEffect(() => {
    if (mode === "reject") reasonInput.current?.focus();
    if (mode === "correct") (labelType === "classes" ? firstChoice.current : correctedInput.current)?.focus();
  }, [mode, labelType]);

  useEffect(() => {
    function onKey(event: KeyboardEvent) {
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      if (event.key === "Escape" && mode !== "decide") {
        event.preventDefault();
        setMode("decide");
        return;
      }
      if (typing(event.target)) return;
      if (mode === "correct" && labelType === "classes") {
        const choice = otherClasses[CLASS_KEYS.indexOf(event.key)];
        if (CLASS_KEYS.includes(event.key) && choice !== undefined) {
          event.preventDefault();
          void send({ verdict: "correct", corrected_value: choice });
          return;
        }
      }
      if (event.key === "a") {
        event.preventDefault();
        void send({ verdict: "accept" });
      } else if (event.key === "c") {
        event.preventDefault();
        setMode("correct");
      } else if (event.key === "r") {
        event.preventDefault();
        setMode("reject");
      }
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [mode, labelType, otherClasses, send]);

  function reject(event: FormEvent) {
    event.preventDefault();
    if (reason.trim() === "") {
      setFailure(new ApiError(422, "reason_required", "A rejection must say why: write the reason."));
      reasonInput.current?.focus();
      return;
    }
    void send({ verdict: "reject", reason: reason.trim() });
  }

  function correct(event: FormEvent) {
    event.preventDefault();
    void send({ verdict: "correct", corrected_value: corrected.trim() });
  }

  const name = dataset.data?.name ?? `dataset ${label.dataset_id}`;
  return (
    <section className="reviewer-label" aria-label="Label to review" aria-busy={busy}>
      <h2>
        Item {label.external_id} of {name}
      </h2>
      <p className="muted">
        Label {label.id} by {shortAddress(label.annotator)}, submitted{" "}
        {new Date(label.created_at).toLocaleString()}
        {labelType !== undefined && ` · ${labelType}`}
        {labelType === "classes" && classes.length > 0 && ` (${classes.join(", ")})`}
      </p>
      {dataset.error && <ErrorNotice error={dataset.error} />}
      <div className="item-frame">
        <p className="item-key">The item, as the annotator saw it</p>
        <ItemShown data={label.item_data} value={label.value} labelType={labelType} name={`Item ${label.external_id}`} />
      </div>
      <div className="item-frame">
        <p className="item-key">The annotator's label</p>
        <LabelValue value={label.value} labelType={labelType} />
      </div>
      <p className="muted">
        The dataset's <Link to={`/datasets/${label.dataset_id}`}>instructions</Link> say what a right label is.
      </p>
      {failure !== null && <ErrorNotice error={failure} />}
      <div role="group" aria-label="Decision" className="reviewer-actions">
        <button type="button" className="primary" aria-keyshortcuts="a" disabled={busy} onClick={() => void send({ verdict: "accept" })}>
          <kbd aria-hidden="true">a</kbd> Accept
        </button>
        <button type="button" aria-keyshortcuts="c" aria-expanded={mode === "correct"} onClick={() => setMode("correct")}>
          <kbd aria-hidden="true">c</kbd> Correct
        </button>
        <button type="button" aria-keyshortcuts="r" aria-expanded={mode === "reject"} onClick={() => setMode("reject")}>
          <kbd aria-hidden="true">r</kbd> Reject
        </button>
      </div>
      {mode === "correct" &&
        (labelType === "classes" ? (
          <div role="group" aria-label="Corrected class" className="classes">
            {otherClasses.map((value, index) => {
              const key = CLASS_KEYS[index];
              return (
                <button
                  key={value}
                  ref={index === 0 ? firstChoice : undefined}
                  type="button"
                  className="class-button"
                  aria-keyshortcuts={key}
                  disabled={busy}
                  onClick={() => void send({ verdict: "correct", corrected_value: value })}
                >
                  {key !== undefined && <kbd aria-hidden="true">{key}</kbd>}
                  {value}
                </button>
              );
            })}
            <p className="muted">Press the key of the right class; Escape goes back.</p>
          </div>
        ) : (
          <form onSubmit={correct} className="reviewer-form">
            <label>
              Corrected value{" "}
              <input
                ref={correctedInput}
                value={corrected}
                onChange={(event) => setCorrected(event.target.value)}
                aria-describedby="reviewer-corrected-help"
              />
            </label>{" "}
            <button type="submit" disabled={busy}>
              Send the correction
            </button>
            <p className="muted" id="reviewer-corrected-help">
              {labelType === "boxes"
                ? "The box as [x min, y min, x max, y max] in the picture's pixels."
                : labelType === "spans"
                  ? "The span as [start, end] character offsets."
                  : "The right value."}{" "}
              Enter sends; Escape goes back.
            </p>
          </form>
        ))}
      {mode === "reject" && (
        <form onSubmit={reject} className="reviewer-form">
          <label>
            Why reject (required){" "}
            <input
              ref={reasonInput}
              value={reason}
              aria-required="true"
              onChange={(event) => setReason(event.target.value)}
              aria-describedby="reviewer-reason-help"
            />
          </label>{" "}
          <button type="submit" disabled={busy}>
            Send the rejection
          </button>
          <p className="muted" id="reviewer-reason-help">
            The annotator sees this reason and may dispute it. Enter sends; Escape goes back.
          </p>
        </form>
      )}
    </section>
  );
}

function Queue() {
  const queryClient = useQueryClient();
  const queue = useQuery({
    queryKey: QUEUE,
    queryFn: () => call(api.GET("/v1/reviews/queue")),
    staleTime: Infinity,
    refetchOnWindowFocus: false,
    retry: false,
  });
  const [reviewed, setReviewed] = useState(0);
  const [last, setLast] = useState<Label | null>(null);

  const onDone = useCallback(
    (answer: Label) => {
      setReviewed((n) => n + 1);
      setLast(answer);
      const rest = (queryClient.getQueryData<Entry[]>(QUEUE) ?? []).filter((label) => label.id !== answer.id);
      queryClient.setQueryData(QUEUE, rest);
      if (rest.length === 0) void queryClient.invalidateQueries({ queryKey: QUEUE });
    },
    [queryClient],
  );

  const label = queue.data?.[0];
  return (
    <>
      <p className="workspace-meta">
        <span role="status">
          Reviewed {reviewed} {reviewed === 1 ? "label" : "labels"}
        </span>
        {queue.data !== undefined && ` · ${queue.data.length} waiting`}
        {" · "}
        <Link to="/review/disputes">Disputes to decide</Link>
      </p>
      {last !== null && (
        <p className="muted">
          Label {last.id}: {last.status}
          {last.corrected_value !== null && `, corrected to ${last.corrected_value}`}
          {last.status === "rejected" && last.reason !== null && ` (${last.reason})`}.
        </p>
      )}
      {queue.isPending && <p className="muted">Reading the queue…</p>}
      {queue.error &&
        (queue.error instanceof ApiError && queue.error.code === "missing_role" ? (
          <NotAReviewer />
        ) : (
          <ErrorNotice
            error={queue.error}
            action={
              <button type="button" onClick={() => void queue.refetch()}>
                Try again
              </button>
            }
          />
        ))}
      {queue.data !== undefined && label === undefined && (
        <div className="notice">
          <p>Nothing to review now</p>
          <p className="next-step">
            New labels of the datasets you review show here as annotators send them:{" "}
            <button type="button" onClick={() => void queue.refetch()}>
              Look again
            </button>
            . If you review no dataset, a dataset's buyer appoints reviewers by address.
          </p>
        </div>
      )}
      {label !== undefined && <Reviewing key={label.id} label={label} onDone={onDone} />}
    </>
  );
}

export default function ReviewPage() {
  return (
    <>
      <h1>Review</h1>
      <p>
        Accept each label that follows the dataset's instructions, correct one that is nearly
        right, or reject it with the reason. Keys: <kbd>a</kbd> accept, <kbd>c</kbd> correct,{" "}
        <kbd>r</kbd> reject.
      </p>
      <RequireSignIn what="the labels you review">
        <Queue />
      </RequireSignIn>
    </>
  );
}
