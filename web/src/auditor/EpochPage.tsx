// One epoch (GET /v1/epochs/{n}): its facts and what it debited per dataset.
import { Link, useParams } from "react-router";

import { RequireSignIn } from "../ui/RequireSignIn";
import { EpochDebits, EpochFacts } from "./EpochFacts";
import { EpochsFailure } from "./NeedsAuditor";
import { useEpoch } from "./queries";

function Epoch({ number }: { number: number }) {
  const { data, error } = useEpoch(number);
  if (error) return <EpochsFailure error={error} />;
  if (!data) return <p className="muted">Loading…</p>;
  return (
    <>
      <EpochFacts epoch={data} heading="h2" />
      <EpochDebits epoch={data} />
      <p>
        <Link to="/epochs/verify">Verify a proof against the chain</Link>
      </p>
    </>
  );
}

export default function EpochPage() {
  const { number } = useParams();
  const parsed = number !== undefined && /^[0-9]{1,9}$/.test(number) ? Number(number) : null;
  return (
    <>
      <h1>Epoch {number}</h1>
      {parsed === null ? (
        <p role="alert">
          &ldquo;{number}&rdquo; is not an epoch number. <Link to="/epochs">See every epoch</Link>.
        </p>
      ) : (
        <RequireSignIn what="this epoch">
          <Epoch number={parsed} />
        </RequireSignIn>
      )}
    </>
  );
}
