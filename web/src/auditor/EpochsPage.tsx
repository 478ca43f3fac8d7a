// Every epoch the service settled, newest first, with its roots, content hash, counts and state,
// and the files anyone can recompute it from.
import { Link } from "react-router";

import { RequireSignIn } from "../ui/RequireSignIn";
import { AuditCommand } from "./AuditCommand";
import { EpochFacts } from "./EpochFacts";
import { EpochsFailure } from "./NeedsAuditor";
import { useEpochs } from "./queries";

function Epochs() {
  const { data, error } = useEpochs();
  if (error) return <EpochsFailure error={error} />;
  if (!data) return <p className="muted">Loading…</p>;
  if (data.length === 0) {
    return <p>No epoch yet: the operator (or the settlement job) settles verified labels into the first one.</p>;
  }
  const newestFirst = [...data].sort((a, b) => b.number - a.number);
  return (
    <>
      <p>
        {data.length} {data.length === 1 ? "epoch" : "epochs"}.{" "}
        <Link to="/epochs/verify">Verify a proof against the chain</Link>
      </p>
      {newestFirst.map((epoch) => (
        <EpochFacts key={epoch.number} epoch={epoch} heading="h2" />
      ))}
    </>
  );
}

export default function EpochsPage() {
  return (
    <>
      <h1>Epochs</h1>
      <RequireSignIn what="the epochs">
        <Epochs />
      </RequireSignIn>
      <AuditCommand />
    </>
  );
}
