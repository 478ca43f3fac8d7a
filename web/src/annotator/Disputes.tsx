// An annotator's disputes on My labels: a rejected label may be disputed with a comment within
// its dataset's dispute window (POST /v1/labels/{id}/disputes), once; GET /v1/me/disputes says
// how each dispute stands: open, upheld (the label is verified by appeal and paid next epoch) or
// denied, with the decider's reason.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, type RefCallback, useEffect, useRef, useState } from "react";

import { api, call, type Schemas } from "../api/client";
import { ApiError } from "../api/errors";
import { ErrorNotice } from "../ui/ErrorNotice";
import { shortAddress } from "../ui/format";

type Label = Schemas["LabelPublic"];
type Dispute = Schemas["DisputePublic"];
type Dataset = Schemas["DatasetPublic"];

export const MY_DISPUTES = ["my-disputes"];

export function useMyDisputes() {
  return useQuery({ queryKey: MY_DISPUTES, queryFn: () => call(api.GET("/v1/me/disputes")) });
}

/** When the label's dispute window closes, or null when the dataset's terms are not at hand. */
export function disputeCloses(label: Label, dataset: Dataset | undefined): Date | null {
  if (label.decided_at === null || dataset === undefined) return null;
  return new Date(Date.parse(label.decided_at) + dataset.verification.dispute_window_seconds * 1000);
}

/** The dispute refusals an annotator can meet, in words, each with what to do next. */
function DisputeRefusal({ error }: { error: unknown }) {
  if (!(error instanceof ApiError)) return <ErrorNotice error={error} />;
  const next: Record<string, string> = {
    dispute_window_closed:
      "The rejection stands and this label can no longer be disputed. Next time, dispute within the window the dataset's terms give (on its page).",
    already_disputed:
      "This label has its one dispute already: its state is shown in this row now. Wait for a reviewer or an operator to decide it.",
    label_not_rejected:
      "Only a rejected label can be disputed, and this one's status changed: the table shows it as it is now.",
    not_your_label: "Only the annotator who made a label disputes it; sign in with the wallet that made it.",
  };
  const step = next[error.code];
  if (step === undefined) return <ErrorNotice error={error} />;
  return (
    <div className="notice notice-error" role="alert">
      <p>{error.message}</p>
      <p className="next-step">{step}</p>
    </div>
  );
}

function DisputeForm({
  label,
  onCancel,
  onOpened,
  onRefused,
}: {
  label: Label;
  onCancel: () => void;
  onOpened: () => void;
  onRefused: (error: unknown) => void;
}) {
  const queryClient = useQueryClient();
  const [comment, setComment] = useState("");
  const field = useRef<HTMLTextAreaElement>(null);
  useEffect(() => field.current?.focus(), []);
  const open = useMutation({
    mutationFn: (text: string) =>
      call(
        api.POST("/v1/labels/{label_id}/disputes", {
          params: { path: { label_id: label.id } },
          body: { comment: text },
        }),
      ),
    onSuccess: (dispute) => {
      onOpened();
      queryClient.setQueryData<Dispute[]>(MY_DISPUTES, (known) => [dispute, ...(known ?? [])]);
    },
    onError: (error) => {
      // The cell keeps the refusal: reading the disputes again may replace this form with the
      // dispute's state (one opened meanwhile elsewhere), and the words must stay.
      onRefused(error);
      // what the refusal may have changed (a dispute opened elsewhere, a status): read it again
      void queryClient.invalidateQueries({ queryKey: MY_DISPUTES });
      void queryClient.invalidateQueries({ queryKey: ["my-labels"] });
    },
  });
  const id = `dispute-comment-${label.id}`;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (comment.trim() === "") return;
    open.mutate(comment.trim());
  }

  return (
    <form className="dispute-form" onSubmit={submit} aria-label={`Dispute of label ${label.id}`}>
      <label htmlFor={id}>Why your label is right</label>
      <textarea
        id={id}
        ref={field}
        value={comment}
        required
        maxLength={2000}
        rows={3}
        onChange={(event) => setComment(event.target.value)}
      />
      <p className="muted">
        A reviewer other than the one who rejected it, or an operator, reads this and decides. You may dispute a
        label once.
      </p>
      <div className="dispute-actions">
        <button type="submit" className="primary" disabled={open.isPending}>
          Open dispute
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** A decided or open dispute, as its label's row says it. */
function DisputeState({ dispute, focus }: { dispute: Dispute; focus: RefCallback<HTMLElement> }) {
  if (dispute.status === "open") {
    return (
      <p className="dispute-state dispute-open" ref={focus} tabIndex={-1}>
        <strong>Dispute open</strong> since {new Date(dispute.created_at).toLocaleDateString()}: a reviewer other
        than the one who rejected it, or an operator, decides. Your comment: “{dispute.comment}”
      </p>
    );
  }
  const by = dispute.decided_by === null ? "" : ` by ${shortAddress(dispute.decided_by)}`;
  const reason = dispute.decision_reason ?? "no reason given";
  if (dispute.status === "upheld") {
    return (
      <p className="dispute-state dispute-won" ref={focus} tabIndex={-1}>
        <strong>Dispute won</strong>: upheld{by} (“{reason}”). The label is accepted now and the next epoch pays
        it.
      </p>
    );
  }
  return (
    <p className="dispute-state dispute-lost" ref={focus} tabIndex={-1}>
      <strong>Dispute lost</strong>: denied{by} (“{reason}”). The rejection stands; a label is disputed once.
    </p>
  );
}

/** The Dispute cell of a label's row: its dispute's state, the way to open one, or why not. */
export function DisputeCell({
  label,
  dispute,
  dataset,
  now,
}: {
  label: Label;
  dispute: Dispute | undefined;
  dataset: Dataset | undefined;
  now: number;
}) {
  const [open, setOpen] = useState(false);
  const [refusal, setRefusal] = useState<unknown>(null);
  // Where the keyboard goes when the form closes: back to the button (cancelled), or to the
  // dispute's state (opened, or found opened already).
  const wantFocus = useRef(false);
  const focus: RefCallback<HTMLElement> = (element) => {
    if (element !== null && wantFocus.current) {
      wantFocus.current = false;
      element.focus();
    }
  };
  return (
    <>
      {refusal !== null && <DisputeRefusal error={refusal} />}
      <DisputeAction
        label={label}
        dispute={dispute}
        dataset={dataset}
        now={now}
        open={open}
        setOpen={(to) => {
          setRefusal(null);
          wantFocus.current = !to;
          setOpen(to);
        }}
        focus={focus}
        onRefused={(error) => {
          wantFocus.current = true;
          setRefusal(error);
        }}
      />
    </>
  );
}

function DisputeAction({
  label,
  dispute,
  dataset,
  now,
  open,
  setOpen,
  focus,
  onRefused,
}: {
  label: Label;
  dispute: Dispute | undefined;
  dataset: Dataset | undefined;
  now: number;
  open: boolean;
  setOpen: (open: boolean) => void;
  focus: RefCallback<HTMLElement>;
  onRefused: (error: unknown) => void;
}) {
  if (dispute !== undefined) return <DisputeState dispute={dispute} focus={focus} />;
  if (label.status !== "rejected") return null;
  const closes = disputeCloses(label, dataset);
  if (closes !== null && closes.getTime() < now) {
    return (
      <p className="muted">
        The dispute window closed on {closes.toLocaleDateString()}: the rejection stands.
      </p>
    );
  }
  if (open) {
    return (
      <DisputeForm
        label={label}
        onCancel={() => setOpen(false)}
        onOpened={() => setOpen(false)}
        onRefused={onRefused}
      />
    );
  }
  return (
    <>
      <button type="button" ref={focus} aria-label={`Dispute label ${label.id}`} onClick={() => setOpen(true)}>
        Dispute
      </button>
      {closes !== null && <p className="muted">until {closes.toLocaleString()}</p>}
    </>
  );
}
