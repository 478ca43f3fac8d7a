import type { ReactNode } from "react";

import { useSession, useSessionEnd } from "../api/session";

/** The page's content once signed in; before that, how to sign in. */
export function RequireSignIn({ children, what }: { children: ReactNode; what: string }) {
  const current = useSession();
  const ended = useSessionEnd();
  if (current === null) {
    return (
      <div className="notice">
        <p>
          {ended === "expired" && "Your session ended (it expired or was revoked). "}Sign in to see{" "}
          {what}.
        </p>
        <p className="next-step">
          Press Connect wallet at the top of the page, pick your wallet, then press Sign in and
          confirm the message in your wallet. Signing costs nothing and sends no transaction.
        </p>
      </div>
    );
  }
  return <>{children}</>;
}
