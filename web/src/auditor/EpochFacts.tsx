// One epoch as an auditor reads it: its state, roots, content hash, counts and the files that
// let anyone recompute it (the public publication, the same bytes as the epoch routes).
import { Link } from "react-router";

import { Amount } from "../chain/Amount";
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

type Debit = Epoch["debits"][number];

/** One dataset's debit and fee, in its token's units with the token's symbol (the epoch route
 * names the token's address beside its allowlist index). */
function DebitRow({ debit }: { debit: Debit }) {
  return (
    <tr>
      <td>
        <code className="hash">{debit.dataset_id}</code>
      </td>
      <td>{debit.labels}</td>
      <td>
        <Amount token={debit.token} value={debit.debit} />
      </td>
      <td>
        <Amount token={debit.token} value={debit.fee} />
      </td>
      <td>
        <code className="hash">{debit.token}</code>
        {debit.token_index !== null && <span className="muted"> (index {debit.token_index})</span>}
      </td>
    </tr>
  );
}

/** Per-dataset debits and fees of one epoch, in token units (the published manifest, linked
 * above, lists the same debits with the token's index). */
export function EpochDebits({ epoch }: { epoch: Epoch }) {
  if (epoch.debits.length === 0) return <p>This epoch debited no dataset.</p>;
  return (
    // focusable: on a phone the table scrolls sideways, and a keyboard must reach all of it
    <div className="table-scroll" tabIndex={0} role="region" aria-label={`Debits of epoch ${epoch.number}`}>
      <table>
        <caption>What epoch {epoch.number} debited, per dataset</caption>
        <thead>
          <tr>
            <th scope="col">Dataset on the ledger</th>
            <th scope="col">Labels</th>
            <th scope="col">Paid to annotators</th>
            <th scope="col">Fee</th>
            <th scope="col">Token</th>
          </tr>
        </thead>
        <tbody>
          {epoch.debits.map((d) => (
            <DebitRow key={d.dataset_id} debit={d} />
          ))}
        </tbody>
      </table>
    </div>
  );
}
