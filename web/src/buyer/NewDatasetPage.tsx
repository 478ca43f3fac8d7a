// A new dataset: its label type and schema, payment token, price and reward (in token units),
// how labels are verified, instructions, and who may work on it. POST /v1/datasets; the API's
// field errors are shown beside their fields, then the dataset's own page takes over.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, type ReactNode, useState } from "react";
import { Link, useNavigate } from "react-router";
import { type Address, parseUnits } from "viem";

import { api, call, type Schemas } from "../api/client";
import { ApiError } from "../api/errors";
import { type Kind, useKinds } from "../api/kinds";
import { useService } from "../chain/service";
import { useToken } from "../chain/tokens";
import { ErrorNotice } from "../ui/ErrorNotice";
import { RequireSignIn } from "../ui/RequireSignIn";

type LabelType = Schemas["LabelType"];
type Method = Schemas["Method"];
type Aggregator = Schemas["Aggregator"];

const DAY = 86_400;

/** The kinds' groups on the form, by what they label (a kind's first medium), in this order. */
const GROUPS: readonly (readonly [string, string])[] = [
  ["any", "Any data"],
  ["image", "Pictures"],
  ["text", "Texts"],
  ["audio", "Audio"],
  ["video", "Video"],
  ["3d", "3D point clouds"],
  ["llm", "LLM feedback"],
];

/** Each kind in a few words (the hint below the choice gives its whole summary); a kind the
 * service adds later is shown by its summary until it has words here. */
const TITLES: Readonly<Record<string, string>> = {
  classes: "A class from a list",
  boxes: "Boxes drawn on a picture",
  spans: "Spans of a text",
  objects: "Classed boxes around every object",
  polygons: "Polygons outlining regions",
  keypoints: "Keypoints of a skeleton",
  masks: "A painted mask",
  multilabel: "Any number of classes",
  entities: "Entity spans in a text",
  texts: "A short free-text answer",
  transcripts: "A transcript of speech",
  segments: "Time segments with classes",
  tracks: "Object tracks through a video",
  cuboids: "3D boxes in a point cloud",
  preference: "The better of two answers",
  ranking: "A ranking of answers",
  ratings: "Ratings on criteria",
  written: "A written response",
};

function titleOf(kind: Kind): string {
  const title = TITLES[kind.name];
  if (title !== undefined) return title;
  return kind.summary.charAt(0).toUpperCase() + kind.summary.slice(1);
}

function groupOf(kind: Kind): string {
  const first = kind.media[0] ?? "any";
  return GROUPS.some(([media]) => media === first) ? first : "any";
}

/** The kinds to choose from, grouped: radios with the kind's words, its name beside them. */
function KindChoice({ kinds, chosen, onChoose, describedBy }: {
  kinds: readonly Kind[];
  chosen: string;
  onChoose: (name: string) => void;
  describedBy: string | undefined;
}) {
  return (
    <>
      {GROUPS.map(([media, heading]) => {
        const inGroup = kinds.filter((kind) => groupOf(kind) === media);
        if (inGroup.length === 0) return null;
        return (
          <div key={media} className="buyer-kind-group" role="group" aria-label={heading}>
            <p className="buyer-kind-heading">{heading}</p>
            {inGroup.map((kind) => (
              <label key={kind.name} className="buyer-choice">
                <input type="radio" name="label_type" value={kind.name} checked={chosen === kind.name}
                  onChange={() => onChoose(kind.name)} aria-describedby={describedBy} />{" "}
                {titleOf(kind)}
              </label>
            ))}
          </div>
        );
      })}
    </>
  );
}

/** The fields the form shows an error beside. */
const SHOWN = new Set([
  "name",
  "label_type",
  "label_classes",
  "payment_token",
  "price_per_label",
  "reward_per_label",
  "verification.overlap",
  "verification.consensus_k",
  "verification.consensus_max_k",
  "verification.consensus_aggregator",
  "verification.agreement_threshold",
  "verification.review_window_seconds",
  "verification.dispute_window_seconds",
  "instructions",
  "workforce",
]);

/** The API's field errors (its envelope's `fields`) as messages by field; an item of a list
 * ("label_classes.2") is shown at its list. */
export function fieldErrors(error: unknown): Record<string, string> {
  if (!(error instanceof ApiError) || error.code !== "invalid_input") return {};
  const found: Record<string, string> = {};
  for (const { loc, message } of error.fields) {
    const field = loc.replace(/\.\d+$/, "");
    found[field] = found[field] ? `${found[field]}; ${message}` : message;
  }
  return found;
}

function Field({
  id,
  label,
  hint,
  error,
  children,
}: {
  id: string;
  label: string;
  hint?: string;
  error?: string | undefined;
  children: ReactNode;
}) {
  return (
    <div className="buyer-field">
      <label htmlFor={id}>{label}</label>
      {children}
      {hint && (
        <p id={`${id}-hint`} className="muted">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="buyer-field-error">
          {error}
        </p>
      )}
    </div>
  );
}

/** aria-describedby for a field: its hint and its error, where it has them. */
function described(id: string, hint: boolean, error: string | undefined): string | undefined {
  const ids = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean);
  return ids.length > 0 ? ids.join(" ") : undefined;
}

function TokenOption({ token }: { token: Address }) {
  const { facts } = useToken(token);
  return <option value={token}>{facts ? `${facts.symbol} (${token})` : token}</option>;
}

/** Token units typed by a person as base units (exactly: sent as the integer they are, however
 * large), or null when they are not a number. */
function baseUnits(text: string, decimals: number | undefined): bigint | null {
  const typed = /^\s*[0-9]+(?:\.([0-9]+))?\s*$/.exec(text);
  // more decimals than the token has would be rounded away: refused, not changed
  if (decimals === undefined || typed === null || (typed[1]?.length ?? 0) > decimals) return null;
  try {
    return parseUnits(text.trim(), decimals);
  } catch {
    return null;
  }
}

function lines(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

function NewDatasetForm() {
  const service = useService();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [labelType, setLabelType] = useState<LabelType>("classes");
  const kinds = useKinds();
  const kind = kinds.data?.find((k) => k.name === labelType);
  const needsClasses = kind?.needs_classes ?? labelType === "classes";
  const reviewedOnly = kind?.reviewed_only ?? false;
  const exact = kind?.single_class ?? labelType === "classes";
  const [classes, setClasses] = useState("");
  const [token, setToken] = useState<Address>(service.paymentTokens[0] ?? service.ledger);
  const [price, setPrice] = useState("");
  const [reward, setReward] = useState("0");
  const [method, setMethod] = useState<Method>("review");
  const [overlap, setOverlap] = useState("1");
  const [consensusK, setConsensusK] = useState("3");
  const [consensusMaxK, setConsensusMaxK] = useState("5");
  const [aggregator, setAggregator] = useState<Aggregator>("majority");
  const [threshold, setThreshold] = useState("0.5");
  const [reviewDays, setReviewDays] = useState("7");
  const [disputeDays, setDisputeDays] = useState("7");
  const [instructions, setInstructions] = useState("");
  const [isPrivate, setPrivate] = useState(false);
  const [workforce, setWorkforce] = useState("");
  const [local, setLocal] = useState<Record<string, string>>({});
  const paymentFacts = useToken(token).facts;
  const labelFacts = useToken(service.labelToken).facts;

  const create = useMutation({
    mutationFn: (body: Schemas["DatasetCreate"]) => call(api.POST("/v1/datasets", { body })),
    onSuccess: async (created) => {
      await queryClient.invalidateQueries({ queryKey: ["datasets"] });
      await navigate(`/buyer/datasets/${created.id}`);
    },
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    const mine: Record<string, string> = {};
    const pricePerLabel = baseUnits(price, paymentFacts?.decimals);
    const rewardPerLabel = baseUnits(reward, labelFacts?.decimals);
    const places = (decimals: number | undefined) => (decimals === undefined ? "" : ` with at most ${decimals} decimals`);
    if (pricePerLabel === null) {
      mine["price_per_label"] = `Type the price as a number of tokens${places(paymentFacts?.decimals)}, e.g. 0.25.`;
    }
    if (rewardPerLabel === null) {
      mine["reward_per_label"] = `Type the reward as a number of LABEL${places(labelFacts?.decimals)}, e.g. 1 (or 0).`;
    }
    setLocal(mine);
    if (pricePerLabel === null || rewardPerLabel === null) return;
    const verification: Record<string, unknown> = {
      method: reviewedOnly ? "review" : method,
      review_window_seconds: Math.round(Number(reviewDays) * DAY),
      dispute_window_seconds: Math.round(Number(disputeDays) * DAY),
    };
    if (method === "review" || reviewedOnly) verification["overlap"] = Number(overlap);
    else {
      verification["consensus_k"] = Number(consensusK);
      verification["consensus_max_k"] = Number(consensusMaxK);
      verification["consensus_aggregator"] = aggregator;
    }
    if (!exact && !reviewedOnly) verification["agreement_threshold"] = Number(threshold);
    const body: Record<string, unknown> = {
      name,
      label_type: labelType,
      payment_token: token,
      price_per_label: pricePerLabel,
      reward_per_label: rewardPerLabel,
      instructions,
      verification,
      private: isPrivate,
    };
    // A kind with default classes (preference's A, B, tie) takes none listed as its default.
    if (needsClasses && (lines(classes).length > 0 || labelType === "classes")) body["label_classes"] = lines(classes);
    if (isPrivate) body["workforce"] = lines(workforce);
    // Only what the buyer chose is sent: the service fills in its documented defaults (the
    // generated type marks every defaulted field as required).
    create.mutate(body as unknown as Schemas["DatasetCreate"]);
  }

  const fromApi = fieldErrors(create.error);
  const errors = { ...fromApi, ...local };
  // Problems with no field of their own on the form (the body as a whole, a default we send not).
  const stray = Object.entries(fromApi).filter(([field]) => !SHOWN.has(field));
  const unplaced = create.error !== null && Object.keys(fromApi).length === 0;
  const err = (field: string) => errors[field];
  return (
    <form className="buyer-form" onSubmit={submit} noValidate>
      <Field id="name" label="Name" error={err("name")}>
        <input id="name" required value={name} onChange={(e) => setName(e.target.value)}
          aria-describedby={described("name", false, err("name"))} aria-invalid={Boolean(err("name"))} />
      </Field>
      <fieldset>
        <legend>What annotators give each item</legend>
        {kinds.data === undefined ? (
          kinds.error !== null ? <ErrorNotice error={kinds.error} /> : <p className="muted">Reading the label kinds…</p>
        ) : (
          <KindChoice kinds={kinds.data} chosen={labelType} onChoose={(name) => setLabelType(name as LabelType)}
            describedBy={described("label_type", true, err("label_type"))} />
        )}
        <p id="label_type-hint" className="muted">
          {kind !== undefined && (
            <>
              A label is {kind.summary}. {kind.reviewed_only ? "Only your reviewers judge it: no consensus, no gold answers." : `Two labels agree by ${kind.measure}.`}
            </>
          )}
        </p>
        {err("label_type") && <p id="label_type-error" className="buyer-field-error">{err("label_type")}</p>}
      </fieldset>
      {needsClasses && (
        <Field id="label_classes" label="Classes"
          hint={labelType === "classes" || kind === undefined
            ? "One per line (or separated by commas), in the order of keys 1 to 9."
            : `One per line (or separated by commas): ${kind.classes_are}.`}
          error={err("label_classes")}>
          <textarea id="label_classes" rows={4} value={classes} onChange={(e) => setClasses(e.target.value)}
            aria-describedby={described("label_classes", true, err("label_classes"))}
            aria-invalid={Boolean(err("label_classes"))} />
        </Field>
      )}
      <Field id="payment_token" label="Payment token" hint="The tokens the ledger accepts." error={err("payment_token")}>
        <select id="payment_token" value={token} onChange={(e) => setToken(e.target.value as Address)}
          aria-describedby={described("payment_token", true, err("payment_token"))}>
          {service.paymentTokens.map((t) => (
            <TokenOption key={t} token={t} />
          ))}
        </select>
      </Field>
      <Field id="price" label={`Price per verified label${paymentFacts ? ` (${paymentFacts.symbol})` : ""}`}
        hint="Paid to the annotator from your escrow; the platform fee is taken on top." error={err("price_per_label")}>
        <input id="price" inputMode="decimal" value={price} onChange={(e) => setPrice(e.target.value)}
          aria-describedby={described("price", true, err("price_per_label"))} aria-invalid={Boolean(err("price_per_label"))} />
      </Field>
      <Field id="reward" label={`Reward per verified label${labelFacts ? ` (${labelFacts.symbol})` : ""}`}
        hint="LABEL tokens minted to the annotator; they cost you nothing." error={err("reward_per_label")}>
        <input id="reward" inputMode="decimal" value={reward} onChange={(e) => setReward(e.target.value)}
          aria-describedby={described("reward", true, err("reward_per_label"))} aria-invalid={Boolean(err("reward_per_label"))} />
      </Field>
      <fieldset>
        <legend>How labels are verified</legend>
        <label className="buyer-choice">
          <input type="radio" name="method" value="review" checked={method === "review"} onChange={() => setMethod("review")} />{" "}
          Your reviewers accept or reject each label
        </label>
        <label className="buyer-choice">
          <input type="radio" name="method" value="consensus" checked={method === "consensus" && !reviewedOnly}
            disabled={reviewedOnly} onChange={() => setMethod("consensus")} />{" "}
          Annotators agree (consensus){reviewedOnly && " (not for this kind: only reviewers judge it)"}
        </label>
        {method === "review" || reviewedOnly ? (
          <Field id="overlap" label="Annotators per item" error={err("verification.overlap")}>
            <input id="overlap" type="number" min={1} value={overlap} onChange={(e) => setOverlap(e.target.value)}
              aria-describedby={described("overlap", false, err("verification.overlap"))} />
          </Field>
        ) : (
          <>
            <Field id="consensus_k" label="Annotators per item" error={err("verification.consensus_k")}>
              <input id="consensus_k" type="number" min={2} value={consensusK} onChange={(e) => setConsensusK(e.target.value)}
                aria-describedby={described("consensus_k", false, err("verification.consensus_k"))} />
            </Field>
            <Field id="consensus_max_k" label="At most, when they disagree" error={err("verification.consensus_max_k")}>
              <input id="consensus_max_k" type="number" min={2} value={consensusMaxK} onChange={(e) => setConsensusMaxK(e.target.value)}
                aria-describedby={described("consensus_max_k", false, err("verification.consensus_max_k"))} />
            </Field>
            <Field id="aggregator" label="How agreement is found" error={err("verification.consensus_aggregator")}>
              <select id="aggregator" value={aggregator} onChange={(e) => setAggregator(e.target.value as Aggregator)}
                aria-describedby={described("aggregator", false, err("verification.consensus_aggregator"))}>
                <option value="majority">The item's majority</option>
                <option value="wawa">WAWA (weighs annotators by agreement)</option>
                <option value="dawid_skene">Dawid-Skene (weighs annotators by estimated skill)</option>
              </select>
            </Field>
          </>
        )}
        {!exact && !reviewedOnly && (
          <Field id="threshold" label="Similarity at which two labels agree (0 to 1)"
            {...(kind !== undefined ? { hint: `The similarity is ${kind.measure}.` } : {})} error={err("verification.agreement_threshold")}>
            <input id="threshold" inputMode="decimal" value={threshold} onChange={(e) => setThreshold(e.target.value)}
              aria-describedby={described("threshold", kind !== undefined, err("verification.agreement_threshold"))} />
          </Field>
        )}
        <Field id="review_days" label="Days before an unreviewed label is accepted and paid" error={err("verification.review_window_seconds")}>
          <input id="review_days" inputMode="decimal" value={reviewDays} onChange={(e) => setReviewDays(e.target.value)}
            aria-describedby={described("review_days", false, err("verification.review_window_seconds"))} />
        </Field>
        <Field id="dispute_days" label="Days an annotator may dispute a rejection" error={err("verification.dispute_window_seconds")}>
          <input id="dispute_days" inputMode="decimal" value={disputeDays} onChange={(e) => setDisputeDays(e.target.value)}
            aria-describedby={described("dispute_days", false, err("verification.dispute_window_seconds"))} />
        </Field>
      </fieldset>
      <Field id="instructions" label="Instructions" hint="Markdown; part of the terms until you fund the dataset." error={err("instructions")}>
        <textarea id="instructions" rows={6} value={instructions} onChange={(e) => setInstructions(e.target.value)}
          aria-describedby={described("instructions", true, err("instructions"))} />
      </Field>
      <fieldset>
        <legend>Who may label</legend>
        <label className="buyer-choice">
          <input type="checkbox" checked={isPrivate} onChange={(e) => setPrivate(e.target.checked)} /> Only the addresses I list
        </label>
        {isPrivate && (
          <Field id="workforce" label="Allowed annotators" hint="One address per line." error={err("workforce")}>
            <textarea id="workforce" rows={3} value={workforce} onChange={(e) => setWorkforce(e.target.value)}
              aria-describedby={described("workforce", true, err("workforce"))} />
          </Field>
        )}
      </fieldset>
      {create.error !== null && (unplaced ? <ErrorNotice error={create.error} /> : (
        <p className="notice notice-error" role="alert">
          The service refused the dataset: correct what is marked below each field
          {stray.length > 0 && ` and this: ${stray.map(([field, message]) => (field === "body" ? message : `${field}: ${message}`)).join("; ")}`}
          , then press Create the dataset again.
        </p>
      ))}
      <p>
        <button type="submit" className="primary" disabled={create.isPending}>
          {create.isPending ? "Creating…" : "Create the dataset"}
        </button>{" "}
        <Link to="/buyer">Back to my datasets</Link>
      </p>
    </form>
  );
}

export default function NewDatasetPage() {
  return (
    <>
      <h1>New dataset</h1>
      <RequireSignIn what="the form for a new dataset">
        <NewDatasetForm />
      </RequireSignIn>
    </>
  );
}
