// Starts the app: asks the service which chain it runs on, builds the wallet config for that
// chain, then renders. Server state lives in TanStack Query; the wallet's in wagmi.
import "./styles.css";

import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { RouterProvider } from "react-router/dom";
import { WagmiProvider } from "wagmi";

import { ApiError, explain } from "./api/errors";
import { router } from "./app/routes";
import { loadService, ServiceContext, walletConfig } from "./chain/service";

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // An API refusal (4xx) will not change by asking again at once.
      retry: (failures, error) =>
        failures < 2 && !(error instanceof ApiError && error.status >= 400 && error.status < 500),
    },
  },
});

const root = createRoot(document.getElementById("root") as HTMLElement);

function StartFailure({ error }: { error: unknown }) {
  const { message, nextStep } = explain(error);
  return (
    <main id="main" className="start-failure">
      <h1>label-ledger cannot start</h1>
      <div className="notice notice-error" role="alert">
        <p>{message}</p>
        <p className="next-step">{nextStep}</p>
      </div>
      <button type="button" onClick={() => window.location.reload()}>
        Reload
      </button>
    </main>
  );
}

loadService().then(
  (service) => {
    root.render(
      <StrictMode>
        <ServiceContext.Provider value={service}>
          <WagmiProvider config={walletConfig(service)}>
            <QueryClientProvider client={queryClient}>
              <RouterProvider router={router} />
            </QueryClientProvider>
          </WagmiProvider>
        </ServiceContext.Provider>
      </StrictMode>,
    );
  },
  (error: unknown) => root.render(<StartFailure error={error} />),
);
