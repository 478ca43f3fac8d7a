// A dataset's qualification warm-up as the workspace shows it: while it lasts, how many of its
// gold items are answered, and that these are graded against known answers, not paid; and the
// refusals a warm-up brings (failed, or required before paid work), in words with what to do.
import { Link } from "react-router";

import type { Schemas } from "../api/client";
import { percent } from "../ui/format";
import { useStanding } from "./queries";

type Dataset = Schemas["DatasetPublic"];

/** What the dataset's warm-up asks, as one sentence; null when it has none. */
export function warmUpTerms(dataset: Dataset): string | null {
  const v = dataset.verification;
  const items = v.qualification_gold_items ?? 0;
  if (items === 0) return null;
  return (
    `${items} gold ${items === 1 ? "item" : "items"} with known answers before paid work: ` +
    `graded, not paid; you need ${percent(v.qualification_min_accuracy)} right to go on`
  );
}

/** The workspace's warm-up notice, shown while the annotator's warm-up is pending. */
export function WarmUpProgress({ dataset }: { dataset: Dataset }) {
  const standing = useStanding(dataset.id);
  const s = standing.data;
  if (warmUpTerms(dataset) === null || s === undefined || s.qualification === "none") return null;
  if (s.qualification === "passed") {
    return (
      <p className="notice warm-up" role="status">
        Warm-up passed{s.qualification_correct !== null && `: ${s.qualification_correct} of ${s.qualification_answered} right`}. Your labels from here
        on are paid work.
      </p>
    );
  }
  if (s.qualification !== "pending") return null; // failed: the refusal below says it
  return (
    <p className="notice warm-up" role="status">
      <strong>
        Warm-up: {s.qualification_answered} of {s.qualification_items} gold items
      </strong>{" "}
      — your labels on these are checked against known answers before you get paid work. They are not paid;
      you need {percent(dataset.verification.qualification_min_accuracy)} right to go on.
    </p>
  );
}

/** What to do after a warm-up refusal (qualification_failed, qualification_required), or null. */
export function warmUpNextStep(code: string, datasetId: number) {
  if (code === "qualification_failed") {
    return (
      <>
        This dataset gives paid work only to annotators who pass its warm-up, and a warm-up is taken once. Your
        answers are on <Link to={`/datasets/${datasetId}`}>the dataset's page</Link>;{" "}
        <Link to="/datasets">find other work</Link> among the datasets that may take you.
      </>
    );
  }
  if (code === "qualification_required") {
    return (
      <>
        This dataset asks for its gold warm-up first: label the items this page serves (press Get an item), and
        paid work follows once you pass.
      </>
    );
  }
  return null;
}
