// The open datasets, each with what a verified label pays.
import { Link } from "react-router";

import { Amount } from "../chain/Amount";
import { useService } from "../chain/service";
import { ErrorNotice } from "../ui/ErrorNotice";
import { RequireSignIn } from "../ui/RequireSignIn";
import { useDatasets } from "./queries";

function OpenDatasets() {
  const { data, error } = useDatasets();
  const { labelToken } = useService();
  if (error) return <ErrorNotice error={error} />;
  if (!data) return <p className="muted">Loading…</p>;
  const open = data.filter((dataset) => dataset.status === "open");
  if (open.length === 0) {
    return (
      <p>
        No dataset is open for labelling right now. A dataset opens once its buyer funds it on
        chain; come back later.
      </p>
    );
  }
  return (
    <ul className="cards">
      {open.map((dataset) => (
        <li key={dataset.id} className="card">
          <h2>
            <Link to={`/datasets/${dataset.id}`}>{dataset.name}</Link>
          </h2>
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
              </dd>
            </div>
            <div>
              <dt>Escrow left</dt>
              <dd>
                <Amount token={dataset.payment_token} value={dataset.chain.available} />
              </dd>
            </div>
            <div>
              <dt>Labels</dt>
              <dd>
                {dataset.label_type}
                {dataset.label_type === "classes" && `: ${dataset.label_classes.join(", ")}`}
              </dd>
            </div>
          </dl>
        </li>
      ))}
    </ul>
  );
}

export default function DatasetsPage() {
  return (
    <>
      <h1>Datasets</h1>
      <RequireSignIn what="the datasets you may label">
        <OpenDatasets />
      </RequireSignIn>
    </>
  );
}
