import { useRouteError } from "react-router";

import { ErrorNotice } from "../ui/ErrorNotice";

/** A page that failed to load or render: say so, and offer the way back. */
export function RouteError() {
  const error = useRouteError();
  return (
    <main id="main">
      <h1>This page failed</h1>
      <ErrorNotice
        error={error}
        action={
          <p>
            <a href="/">Back to the start</a>
          </p>
        }
      />
    </main>
  );
}
