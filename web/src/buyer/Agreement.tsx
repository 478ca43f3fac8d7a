// The dataset's agreement report (GET /v1/datasets/{id}/agreement): per-annotator agreement with
// the aggregate as a bar chart in plain SVG, with a table saying the same for screen readers, and
// the confusion matrix as a table whose cells are shaded by their share of their row.
import { useQuery } from "@tanstack/react-query";
import { useId, useState } from "react";

import { api, call, type Schemas } from "../api/client";
import { ErrorNotice } from "../ui/ErrorNotice";
import { percent, shortAddress } from "../ui/format";

type Report = Schemas["AgreementReportPublic"];
type Aggregator = Schemas["Aggregator"];

const AGGREGATORS: Record<Aggregator, string> = {
  dawid_skene: "Dawid-Skene",
  wawa: "Wawa",
  majority: "majority vote",
};

function ratio(value: number | null | undefined): string {
  return value === null || value === undefined ? "not enough labels yet" : value.toFixed(2);
}

const BAR_ROW = 28;
const LABEL_WIDTH = 110;
const BAR_WIDTH = 240;
const VALUE_WIDTH = 60;

/** Agreement of each annotator with the aggregate, 0 to 100%, one bar each. The SVG is a picture
 * (role img, named); the table under it, visually hidden, carries the numbers. */
function AgreementBars({ report }: { report: Report }) {
  const titleId = useId();
  const rows = report.annotators;
  const height = rows.length * BAR_ROW + 24;
  const width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH;
  return (
    <figure className="chart">
      <figcaption id={titleId}>Agreement of each annotator with the aggregate label (0 to 100%)</figcaption>
      <svg
        role="img"
        aria-labelledby={titleId}
        viewBox={`0 0 ${width} ${height}`}
        className="chart-bars"
        preserveAspectRatio="xMinYMin meet"
      >
        {[0, 0.5, 1].map((tick) => (
          <g key={tick}>
            <line
              x1={LABEL_WIDTH + tick * BAR_WIDTH}
              x2={LABEL_WIDTH + tick * BAR_WIDTH}
              y1={0}
              y2={rows.length * BAR_ROW}
              className="chart-grid"
            />
            <text x={LABEL_WIDTH + tick * BAR_WIDTH} y={height - 6} textAnchor="middle" className="chart-tick">
              {tick * 100}%
            </text>
          </g>
        ))}
        {rows.map((row, index) => {
          const y = index * BAR_ROW;
          const value = row.agreement_with_aggregate;
          return (
            <g key={row.annotator}>
              <text x={LABEL_WIDTH - 8} y={y + BAR_ROW / 2 + 5} textAnchor="end" className="chart-label">
                {shortAddress(row.annotator)}
              </text>
              <rect
                x={LABEL_WIDTH}
                y={y + 5}
                width={Math.max(value ?? 0, 0) * BAR_WIDTH}
                height={BAR_ROW - 10}
                className="chart-bar"
              />
              <text x={LABEL_WIDTH + BAR_WIDTH + 6} y={y + BAR_ROW / 2 + 5} className="chart-label">
                {value === null || value === undefined ? "n/a" : percent(value)}
              </text>
            </g>
          );
        })}
      </svg>
      {/* the wrapper hides it: a table ignores the 1px width and would widen the page */}
      <div className="visually-hidden">
        <table>
          <caption>Per-annotator agreement, as a table</caption>
          <thead>
            <tr>
              <th scope="col">Annotator</th>
              <th scope="col">Labels</th>
              <th scope="col">Agreement with the aggregate</th>
              <th scope="col">Gold accuracy</th>
              <th scope="col">Estimated skill</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.annotator}>
                <th scope="row">{row.annotator}</th>
                <td>{row.labels}</td>
                <td>{percent(row.agreement_with_aggregate)}</td>
                <td>{row.gold_answered === 0 ? "no gold answered" : `${percent(row.gold_accuracy)} of ${row.gold_answered}`}</td>
                <td>{percent(row.estimated_skill)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}

/** White to the brand blue, never so dark that the dark figures on it lose their contrast. */
function shade(share: number): string {
  const mix = Math.min(Math.max(share, 0), 1) * 0.6;
  const channel = (to: number) => Math.round(255 - mix * (255 - to));
  return `rgb(${channel(29)}, ${channel(78)}, ${channel(137)})`;
}

/** confusion[t][o]: labels answering class o on items aggregated as class t. */
function Confusion({ report }: { report: Report }) {
  const { classes, confusion } = report;
  return (
    <div className="table-scroll">
      <table className="confusion">
        <caption>
          Confusion: rows are the aggregate label of the item, columns the label annotators gave; a darker cell holds a
          larger share of its row
        </caption>
        <thead>
          <tr>
            <th scope="col">Aggregate \ answered</th>
            {classes.map((name) => (
              <th key={name} scope="col">
                {name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {classes.map((name, t) => {
            const row = confusion[t] ?? [];
            const total = row.reduce((sum, n) => sum + n, 0);
            return (
              <tr key={name}>
                <th scope="row">{name}</th>
                {classes.map((other, o) => {
                  const count = row[o] ?? 0;
                  return (
                    <td
                      key={other}
                      className={t === o ? "confusion-cell confusion-agree" : "confusion-cell"}
                      style={{ background: shade(total === 0 ? 0 : count / total) }}
                    >
                      {count}
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function Agreement({ datasetId, labelType }: { datasetId: number; labelType: Schemas["LabelType"] }) {
  const [aggregator, setAggregator] = useState<Aggregator>("dawid_skene");
  const selectId = useId();
  const { data, error, isFetching, refetch } = useQuery({
    queryKey: ["dataset-agreement", datasetId, aggregator],
    queryFn: () =>
      call(
        api.GET("/v1/datasets/{dataset_id}/agreement", {
          params: { path: { dataset_id: datasetId }, query: { aggregator } },
        }),
      ),
  });
  return (
    <>
      <div className="buyer-inline">
        <label htmlFor={selectId}>Aggregate labels by</label>
        <select id={selectId} value={aggregator} onChange={(e) => setAggregator(e.target.value as Aggregator)}>
          {Object.entries(AGGREGATORS).map(([value, words]) => (
            <option key={value} value={value}>
              {words}
            </option>
          ))}
        </select>
        <button type="button" onClick={() => void refetch()} disabled={isFetching}>
          Refresh the report
        </button>
      </div>
      {error && <ErrorNotice error={error} />}
      {!data && !error && <p className="muted">Computing the report…</p>}
      {data && (
        <>
          <dl className="facts">
            <div>
              <dt>Items with labels</dt>
              <dd>{data.items}</dd>
            </div>
            <div>
              <dt>Labels counted</dt>
              <dd>{data.labels}</dd>
            </div>
            <div>
              <dt>Tied items (no aggregate label)</dt>
              <dd>{data.undecided_items}</dd>
            </div>
            <div>
              <dt>Fleiss' kappa</dt>
              <dd>{ratio(data.fleiss_kappa)}</dd>
            </div>
            <div>
              <dt>Krippendorff's alpha</dt>
              <dd>{ratio(data.krippendorff_alpha)}</dd>
            </div>
          </dl>
          {data.annotators.length === 0 ? (
            <p>No labels yet: the report fills in as annotators label.</p>
          ) : (
            <>
              <h3>Per annotator</h3>
              <AgreementBars report={data} />
              {labelType === "classes" && data.classes.length > 0 && (
                <>
                  <h3>Confusion matrix</h3>
                  <Confusion report={data} />
                </>
              )}
            </>
          )}
        </>
      )}
    </>
  );
}
