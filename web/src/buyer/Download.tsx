// The delivered labels (GET /v1/datasets/{id}/labels, the verified ones), every page fetched in
// turn and saved as one file: JSONL (each line a label as the API gives it) or CSV (one row per
// label, the label to use first: a reviewer's correction where there is one).
import { useState } from "react";

import { api, call, type Schemas } from "../api/client";
import { ErrorNotice } from "../ui/ErrorNotice";
import { stringifyJson } from "../api/json";

type Label = Schemas["LabelPublic"];

/** Labels per request: the route's own default page. */
const PAGE = 1000;

async function allDelivered(datasetId: number, onPage: (count: number) => void): Promise<Label[]> {
  const labels: Label[] = [];
  for (;;) {
    const page = await call(
      api.GET("/v1/datasets/{dataset_id}/labels", {
        params: { path: { dataset_id: datasetId }, query: { status: "verified", limit: PAGE, offset: labels.length } },
      }),
    );
    labels.push(...page);
    onPage(labels.length);
    if (page.length < PAGE) return labels;
  }
}

const CSV_COLUMNS = [
  "external_id",
  "label",
  "value",
  "corrected_value",
  "annotator",
  "method",
  "reviewer",
  "epoch",
  "instructions_version",
  "label_id",
  "item_id",
  "decided_at",
] as const;

/** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. */
function csvField(value: string | number | null | undefined): string {
  const text = value === null || value === undefined ? "" : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function toCsv(labels: Label[]): string {
  const rows = labels.map((l) => {
    const row: Record<(typeof CSV_COLUMNS)[number], string | number | null> = {
      external_id: l.external_id,
      label: l.corrected_value ?? l.value,
      value: l.value,
      corrected_value: l.corrected_value,
      annotator: l.annotator,
      method: l.method,
      reviewer: l.reviewer,
      epoch: l.epoch,
      instructions_version: l.instructions_version,
      label_id: l.id,
      item_id: l.item_id,
      decided_at: l.decided_at ?? null,
    };
    return CSV_COLUMNS.map((column) => csvField(row[column])).join(",");
  });
  return [CSV_COLUMNS.join(","), ...rows].map((line) => `${line}\r\n`).join("");
}

/** One label as a JSON line, an amount read as a bigint (beyond 2^53) written as its exact
 * integer, as the service sent it. */
function jsonLine(label: Label): string {
  return `${stringifyJson(label)}\n`;
}

function save(text: string, name: string, type: string) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has its own copy once it started.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function Download({ datasetId }: { datasetId: number }) {
  const [busy, setBusy] = useState(false);
  const [fetched, setFetched] = useState<number | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [failure, setFailure] = useState<unknown>(null);

  async function download(format: "jsonl" | "csv") {
    setBusy(true);
    setFailure(null);
    setDone(null);
    setFetched(0);
    try {
      const labels = await allDelivered(datasetId, setFetched);
      const name = `dataset-${datasetId}-labels.${format}`;
      if (format === "jsonl") {
        save(labels.map(jsonLine).join(""), name, "application/x-ndjson");
      } else {
        save(toCsv(labels), name, "text/csv");
      }
      setDone(`Saved ${labels.length} verified ${labels.length === 1 ? "label" : "labels"} as ${name}.`);
    } catch (error) {
      setFailure(error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <p>
        The verified labels, every one fetched from the service page by page. Where a reviewer corrected a label, use
        the corrected value (the CSV's label column already does).
      </p>
      <div className="buyer-inline">
        <button type="button" onClick={() => void download("jsonl")} disabled={busy}>
          Download the labels (JSONL)
        </button>
        <button type="button" onClick={() => void download("csv")} disabled={busy}>
          Download the labels (CSV)
        </button>
      </div>
      <p role="status">
        {busy && fetched !== null ? `Fetching the labels… ${fetched} so far.` : done}
      </p>
      {failure !== null && <ErrorNotice error={failure} />}
    </>
  );
}
