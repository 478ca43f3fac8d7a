import type { ReactNode } from "react";

import { ApiError } from "../api/errors";
import { ErrorNotice } from "../ui/ErrorNotice";
import { useTakeAuditorRole } from "./queries";

/** An epoch route's failure; when the auditor role is what is missing, the button to take it. */
export function EpochsFailure({ error }: { error: unknown }): ReactNode {
  const take = useTakeAuditorRole();
  if (error instanceof ApiError && error.code === "missing_role") {
    return (
      <div className="notice">
        <p>Epochs are shown to auditors: {error.message}.</p>
        <p className="next-step">Anyone may take the auditor role; it lets you read epochs and check proofs.</p>
        <button type="button" className="primary" disabled={take.isPending} onClick={() => take.mutate()}>
          Take the auditor role
        </button>
        {take.error !== null && <ErrorNotice error={take.error} />}
      </div>
    );
  }
  return <ErrorNotice error={error} />;
}
