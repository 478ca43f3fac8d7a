// One epoch as an auditor reads it: its state, roots, content hash, counts and the files that
// let anyone recompute it (the public publication, the same bytes as the epoch routes).
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { useReadContract } from "wagmi";

import { Amount } from "../chain/Amount";
import { useService } from "../chain/service";
import { ErrorNotice } from "../ui/ErrorNotice";
import { ledgerEpochViews } from "./chainRoots";
import type { Epoch } from "./queries";

function when(unix: number): string {
  return new Date(unix * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export function epochState(epoch: Epoch): string {
  if (epoch.claimable) return "accepted: claimable";
  if (epoch.acceptable_at !== null) {
    const due = epoch.acceptable_at * 1000 <= Date.now() ? "now" : `from ${when(epoch.acceptable_at)}`;
    return `pending (${epoch.status}): can be accepted ${due}`;
  }
  return epoch.status;
}

export function EpochFiles({ epoch }: { epoch: Epoch }) {
  const base = `/v1/published/epochs/${epoch.number}`;
  return (
    <ul className="auditor-files">
      <li>
        <a href={`${base}/manifest.json`}>Manifest of epoch {epoch.number}</a>
      </li>
      <li>
        <a href={`${base}/payout-tree.json`}>Payout tree of epoch {epoch.number}</a>
      </li>
      <li>
        <a href={`${base}/label-tree.json`}>Label tree of epoch {epoch.number}</a>
      </li>
    </ul>
  );
}

export function EpochFacts({ epoch, heading }: { epoch: Epoch; heading: "h2" | "h3" }) {
  const Heading = heading;
  const labels = epoch.debits.reduce((sum, d) => sum + d.labels, 0);
  return (
    <article className="auditor-epoch" aria-labelledby={`epoch-${epoch.number}`}>
      <Heading id={`epoch-${epoch.number}`}>
        <Link to={`/epochs/${epoch.number}`}>Epoch {epoch.number}</Link>
      </Heading>
      <dl className="facts auditor-roots">
        <div>
          <dt>State</dt>
          <dd className={epoch.claimable ? "status-verified" : undefined}>{epochState(epoch)}</dd>
        </div>
        <div>
          <dt>Labels paid</dt>
          <dd>{epoch.label_count}</dd>
        </div>
        <div>
          <dt>Datasets debited</dt>
          <dd>
            {epoch.debits.length} ({labels} labels)
          </dd>
        </div>
        <div>
          <dt>Payout root</dt>
          <dd>
            <code className="hash">{epoch.payout_root}</code>
          </dd>
        </div>
        <div>
          <dt>Label root</dt>
          <dd>
            <code className="hash">{epoch.label_root}</code>
          </dd>
        </div>
        <div>
          <dt>Content hash (keccak256 of the manifest)</dt>
          <dd>
            <code className="hash">{epoch.content_hash}</code>
          </dd>
        </div>
      </dl>
      <EpochFiles epoch={epoch} />
    </article>
  );
}

interface ManifestDebit {
  datasetId: string;
  /** the token's index on the ledger's allowlist */
  token: number;
  debit: string;
  fee: string;
  labels: number;
}

/** One dataset's debit, in the token the ledger lists at the manifest's index (read from the chain). */
function DebitRow({ debit }: { debit: ManifestDebit }) {
  const { ledger, chain } = useService();
  const token = useReadContract({
    address: ledger,
    abi: ledgerEpochViews,
    functionName: "tokenAt",
    args: [debit.token],
    chainId: chain.id,
    query: { staleTime: Infinity },
  });
  const amount = (value: string) =>
    token.data === undefined ? (
      <span className="amount">{token.error ? `${value} base units of token ${debit.token}` : "…"}</span>
    ) : (
      <Amount token={token.data} value={value} />
    );
  return (
    <tr>
      <td>
        <code className="hash">{debit.datasetId}</code>
      </td>
      <td>{debit.labels}</td>
      <td>{amount(debit.debit)}</td>
      <td>{amount(debit.fee)}</td>
    </tr>
  );
}

/** Per-dataset debits and fees of one epoch, in token units: from its published manifest, which
 * names each debit's token (the epoch route does not). */
export function EpochDebits({ epoch }: { epoch: Epoch }) {
  const manifest = useQuery({
    queryKey: ["manifest", epoch.number],
    queryFn: async () => {
      const response = await fetch(`/v1/published/epochs/${epoch.number}/manifest.json`);
      if (!response.ok) throw new Error(`The manifest of epoch ${epoch.number} is not published (${response.status}).`);
      return (await response.json()) as { datasets: ManifestDebit[] };
    },
    staleTime: Infinity,
  });
  if (manifest.error) return <ErrorNotice error={manifest.error} />;
  if (!manifest.data) return <p className="muted">Loading the manifest…</p>;
  if (manifest.data.datasets.length === 0) return <p>This epoch debited no dataset.</p>;
  return (
    <div className="table-scroll">
      <table>
        <caption>What epoch {epoch.number} debited, per dataset (from its manifest)</caption>
        <thead>
          <tr>
            <th scope="col">Dataset on the ledger</th>
            <th scope="col">Labels</th>
            <th scope="col">Paid to annotators</th>
            <th scope="col">Fee</th>
          </tr>
        </thead>
        <tbody>
          {manifest.data.datasets.map((d) => (
            <DebitRow key={d.datasetId} debit={d} />
          ))}
        </tbody>
      </table>
    </div>
  );
}
