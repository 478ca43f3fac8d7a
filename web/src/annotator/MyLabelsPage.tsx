// Every label the annotator made: its item, value, status and, when rejected, the reviewer's
// reason; what a verified label earned; its dispute, or the way to dispute a rejection.
import { Link } from "react-router";

import { Amount } from "../chain/Amount";
import { useService } from "../chain/service";
import { ErrorNotice } from "../ui/ErrorNotice";
import { RequireSignIn } from "../ui/RequireSignIn";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, call } from "../api/client";
import { DisputeCell, useMyDisputes } from "./Disputes";
import { useDatasets } from "./queries";

function LabelsTable() {
  const labels = useQuery({ queryKey: ["my-labels"], queryFn: () => call(api.GET("/v1/me/labels")) });
  const datasets = useDatasets();
  const disputes = useMyDisputes();
  const { labelToken } = useService();
  const [now] = useState(() => Date.now());
  if (labels.error) return <ErrorNotice error={labels.error} />;
  if (!labels.data) return <p className="muted">Loading…</p>;
  if (labels.data.length === 0) {
    return (
      <p>
        You have made no label yet. <Link to="/datasets">Find work</Link> to start.
      </p>
    );
  }
  const byId = new Map((datasets.data ?? []).map((dataset) => [dataset.id, dataset]));
  const disputeOf = new Map((disputes.data ?? []).map((dispute) => [dispute.label_id, dispute]));
  return (
    <>
      {disputes.error && <ErrorNotice error={disputes.error} />}
      <div className="table-scroll">
        <table>
          <caption>My labels</caption>
          <thead>
            <tr>
              <th scope="col">Item</th>
              <th scope="col">Dataset</th>
              <th scope="col">Value</th>
              <th scope="col">Status</th>
              <th scope="col">Reviewer's reason</th>
              <th scope="col">Dispute</th>
              <th scope="col">Earned</th>
            </tr>
          </thead>
          <tbody>
            {labels.data.map((label) => {
              const dataset = byId.get(label.dataset_id);
              return (
                <tr key={label.id}>
                  <td>{label.external_id}</td>
                  <td>
                    <Link to={`/datasets/${label.dataset_id}`}>{dataset?.name ?? `#${label.dataset_id}`}</Link>
                  </td>
                  <td>{label.value}</td>
                  <td>
                    <span className={`status status-${label.status}`}>{label.status}</span>
                  </td>
                  <td>{label.reason ?? ""}</td>
                  <td className="dispute-cell">
                    {disputes.data !== undefined && (
                      <DisputeCell label={label} dispute={disputeOf.get(label.id)} dataset={dataset} now={now} />
                    )}
                  </td>
                  <td>
                    {label.status === "verified" && dataset && label.price !== null && (
                      <>
                        <Amount token={dataset.payment_token} value={label.price} />
                        {label.reward !== null && (
                          <>
                            {" + "}
                            <Amount token={labelToken} value={label.reward} />
                          </>
                        )}
                      </>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}

export default function MyLabelsPage() {
  return (
    <>
      <h1>My labels</h1>
      <p className="muted">
        A rejected label may be disputed once, within its dataset's dispute window: say why your label is right,
        and a reviewer other than the one who rejected it, or an operator, decides.
      </p>
      <RequireSignIn what="your labels">
        <LabelsTable />
      </RequireSignIn>
    </>
  );
}
