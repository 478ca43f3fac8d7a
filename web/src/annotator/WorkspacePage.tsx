// The labelling workspace: one item at a time, labelled with its kind's widget (./kinds: keys
// 1 to 9 for classes, a picture to draw boxes on, a text to select in, ...). A label is sent with
// POST /v1/labels/and-next, whose answer carries the next item, so the next item shows as soon
// as the one round trip returns.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useRef, useState } from "react";
import { Link, useParams } from "react-router";

import { api, call, type Schemas } from "../api/client";
import { ApiError } from "../api/errors";
import { useKinds } from "../api/kinds";
import { ErrorNotice } from "../ui/ErrorNotice";
import { RequireSignIn } from "../ui/RequireSignIn";
import { LabelWidget } from "./kinds";
import { WarmUpProgress, warmUpNextStep } from "./WarmUp";
import { parseId, useDataset } from "./queries";

type NextItem = Schemas["NextItem"];
type Refusal = Schemas["Refusal"];
type SkipReason = NonNullable<Schemas["SkipCreate"]["reason"]>;

/** The item in hand, or why there is none. */
interface Turn {
  item: NextItem | null;
  refusal: Refusal | null;
}

/** next-item's answers that mean "nothing for you now" rather than a failure. */
const REFUSALS = new Set(["queue_empty", "items_reserved", "below_reputation_cutoff", "qualification_failed"]);

const SKIP_REASONS: { reason: SkipReason | ""; label: string }[] = [
  { reason: "", label: "No reason given" },
  { reason: "unclear", label: "Unclear" },
  { reason: "broken_media", label: "Does not load" },
  { reason: "offensive", label: "Offensive" },
  { reason: "other", label: "Other" },
];

async function fetchTurn(datasetId: number): Promise<Turn> {
  try {
    const item = await call(
      api.GET("/v1/datasets/{dataset_id}/next-item", { params: { path: { dataset_id: datasetId } } }),
    );
    return { item, refusal: null };
  } catch (failure) {
    if (failure instanceof ApiError && REFUSALS.has(failure.code)) {
      return { item: null, refusal: { code: failure.code, message: failure.message } };
    }
    throw failure;
  }
}

function Workspace({ datasetId }: { datasetId: number }) {
  const dataset = useDataset(datasetId);
  const kinds = useKinds();
  const queryClient = useQueryClient();
  const turn = useQuery({
    queryKey: ["next-item", datasetId],
    queryFn: () => fetchTurn(datasetId),
    // The item is reserved for us: keep it until we label, skip or release it.
    staleTime: Infinity,
    refetchOnWindowFocus: false,
    retry: false,
  });
  const [labelled, setLabelled] = useState(0);
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [skipReason, setSkipReason] = useState<SkipReason | "">("");
  const busyRef = useRef(false);

  const act = useCallback(
    async (work: () => Promise<Turn>) => {
      if (busyRef.current) return; // one action at a time: a second key press waits for the first
      busyRef.current = true;
      setBusy(true);
      setFailure(null);
      try {
        queryClient.setQueryData(["next-item", datasetId], await work());
      } catch (error) {
        setFailure(error);
      } finally {
        busyRef.current = false;
        setBusy(false);
      }
    },
    [queryClient, datasetId],
  );

  const item = turn.data?.item ?? null;

  const submit = useCallback(
    (value: string) => {
      if (item === null) return;
      void act(async () => {
        const answer = await call(
          api.POST("/v1/labels/and-next", { body: { item_id: item.item_id, value } }),
        );
        setLabelled((n) => n + 1);
        // a label may move the warm-up on (or end it): read the standing again
        void queryClient.invalidateQueries({ queryKey: ["standing", datasetId] });
        return { item: answer.next ?? null, refusal: answer.next_refusal ?? null };
      });
    },
    [act, item, queryClient, datasetId],
  );

  function giveBack(how: "skip" | "release") {
    if (item === null) return;
    void act(async () => {
      const path = { params: { path: { item_id: item.item_id } } };
      if (how === "skip") {
        await call(
          api.POST("/v1/items/{item_id}/skip", {
            ...path,
            body: skipReason === "" ? {} : { reason: skipReason },
          }),
        );
      } else {
        await call(api.POST("/v1/items/{item_id}/release", path));
      }
      return fetchTurn(datasetId);
    });
  }

  const name = dataset.data?.name ?? `dataset ${datasetId}`;
  return (
    <>
      <h1>Labelling {name}</h1>
      <p className="workspace-meta">
        <span role="status">
          Labelled {labelled} {labelled === 1 ? "item" : "items"}
        </span>
        {" · "}
        <Link to={`/datasets/${datasetId}`}>Instructions and terms</Link>
      </p>
      {dataset.data && <WarmUpProgress dataset={dataset.data} />}
      {dataset.error && <ErrorNotice error={dataset.error} />}
      {turn.error && (
        <ErrorNotice
          error={turn.error}
          action={
            <button type="button" onClick={() => void turn.refetch()}>
              Try again
            </button>
          }
        />
      )}
      {failure instanceof ApiError && warmUpNextStep(failure.code, datasetId) !== null ? (
        <div className="notice notice-error" role="alert">
          <p>{failure.message}</p>
          <p className="next-step">{warmUpNextStep(failure.code, datasetId)}</p>
          <button type="button" onClick={() => void act(() => fetchTurn(datasetId))}>
            Get an item
          </button>
        </div>
      ) : failure !== null && (
        <ErrorNotice
          error={failure}
          action={
            <button type="button" onClick={() => void act(() => fetchTurn(datasetId))}>
              Get an item
            </button>
          }
        />
      )}
      {turn.isPending && <p className="muted">Getting an item…</p>}
      {turn.data && item === null && <Done datasetId={datasetId} refusal={turn.data.refusal} onRetry={() => void act(() => fetchTurn(datasetId))} />}
      {item !== null && (
        <section className="workspace" aria-label="Item">
          {/* one widget per kind (./kinds); keyed by item, so each item starts with a clean slate */}
          <div className="item-work" aria-busy={busy}>
            <LabelWidget
              key={item.item_id}
              item={item}
              name={`Item ${item.external_id}`}
              kind={kinds.data?.find((kind) => kind.name === item.label_type)}
              onSubmit={submit}
            />
          </div>
          <div className="give-back">
            <label>
              Why skip{" "}
              <select value={skipReason} onChange={(e) => setSkipReason(e.target.value as SkipReason | "")}>
                {SKIP_REASONS.map(({ reason, label }) => (
                  <option key={reason} value={reason}>
                    {label}
                  </option>
                ))}
              </select>
            </label>{" "}
            <button type="button" onClick={() => giveBack("skip")}>
              Skip
            </button>{" "}
            <button type="button" onClick={() => giveBack("release")}>
              Release
            </button>
            <p className="muted">
              Skip: this item is unfit, and its buyer sees why. Release: give it back for someone
              else. Either way you are not served it again. It is yours until{" "}
              {new Date(item.lease_expires_at).toLocaleTimeString()}.
            </p>
          </div>
        </section>
      )}
    </>
  );
}

function Done({ datasetId, refusal, onRetry }: { datasetId: number; refusal: Refusal | null; onRetry: () => void }) {
  if (refusal === null || refusal.code === "queue_empty") {
    return (
      <div className="notice">
        <p>Nothing more to label in this dataset</p>
        <p className="next-step">
          <Link to="/me/labels">See your labels</Link> and their status, or{" "}
          <Link to="/datasets">find other work</Link>.
        </p>
      </div>
    );
  }
  return (
    <div className="notice">
      <p>{refusal.message}</p>
      <p className="next-step">
        {refusal.code === "items_reserved"
          ? "Other annotators hold the remaining items; try again in a few minutes."
          : (warmUpNextStep(refusal.code, datasetId) ??
            "Your standing on this dataset is on its page; other datasets may take you.")}
      </p>
      <button type="button" onClick={onRetry}>
        Try again
      </button>{" "}
      <Link to={`/datasets/${datasetId}`}>The dataset's page</Link>
    </div>
  );
}

export default function WorkspacePage() {
  const datasetId = parseId(useParams().datasetId);
  if (datasetId === null) {
    return (
      <p className="notice" role="alert">
        This address names no dataset. <Link to="/datasets">Find work</Link> among the open ones.
      </p>
    );
  }
  return (
    <RequireSignIn what="items to label">
      <Workspace datasetId={datasetId} />
    </RequireSignIn>
  );
}
