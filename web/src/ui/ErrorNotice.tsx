import type { ReactNode } from "react";

import { explain } from "../api/errors";

/** An error in words with what to do next; announced to screen readers as it appears. */
export function ErrorNotice({ error, action }: { error: unknown; action?: ReactNode }) {
  const { message, nextStep } = explain(error);
  return (
    <div className="notice notice-error" role="alert">
      <p>{message}</p>
      <p className="next-step">{nextStep}</p>
      {action}
    </div>
  );
}
