// The buyer's datasets, each with its status and the escrow it has left; the way to a new one.
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";

import { api, call } from "../api/client";
import { useSession } from "../api/session";
import { Amount } from "../chain/Amount";
import { ErrorNotice } from "../ui/ErrorNotice";
import { RequireSignIn } from "../ui/RequireSignIn";
import { STATUS_WORDS, useMyDatasets } from "./queries";

function MyDatasets({ address }: { address: string }) {
  const { data, error } = useMyDatasets(address);
  if (error) return <ErrorNotice error={error} />;
  if (!data) return <p className="muted">Loading…</p>;
  if (data.length === 0) {
    return <p>You have no datasets yet. Create one, fund it from your wallet, then upload its items.</p>;
  }
  return (
    <div className="table-scroll">
      <table>
        <caption>Your datasets</caption>
        <thead>
          <tr>
            <th scope="col">Dataset</th>
            <th scope="col">Status</th>
            <th scope="col">Items</th>
            <th scope="col">Escrow left</th>
          </tr>
        </thead>
        <tbody>
          {data.map((dataset) => (
            <tr key={dataset.id}>
              <td>
                <Link to={`/buyer/datasets/${dataset.id}`}>{dataset.name}</Link>
              </td>
              <td>{STATUS_WORDS[dataset.status]}</td>
              <td>{dataset.item_count}</td>
              <td>
                <Amount token={dataset.payment_token} value={dataset.chain.available} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Buyer() {
  const current = useSession();
  const me = useQuery({ queryKey: ["me"], queryFn: () => call(api.GET("/v1/me")) });
  if (me.error) return <ErrorNotice error={me.error} />;
  if (!me.data || current === null) return <p className="muted">Loading…</p>;
  if (!me.data.roles.includes("buyer")) {
    return (
      <div className="notice">
        <p>You do not hold the buyer role yet: datasets are created and funded by buyers.</p>
        <p className="next-step">
          Take the buyer role on the <Link to="/account">Account page</Link>, then come back here.
        </p>
      </div>
    );
  }
  return (
    <>
      <p>
        <Link className="button primary" to="/buyer/new">
          Create a dataset
        </Link>
      </p>
      <MyDatasets address={current.address} />
    </>
  );
}

export default function BuyerPage() {
  return (
    <>
      <h1>My datasets</h1>
      <RequireSignIn what="the datasets you buy">
        <Buyer />
      </RequireSignIn>
    </>
  );
}
