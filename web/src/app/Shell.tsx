// Every page: a banner (the product, the wallet, sign-in, the mirror's sync), the navigation, and
// the page itself, loaded on demand so that each page costs only its own code.
import { Suspense } from "react";
import { Link, NavLink, Outlet } from "react-router";

import { NAV } from "./nav";
import { SyncStatus } from "./SyncStatus";
import { WalletBar } from "./WalletBar";

export function Shell() {
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="banner" role="banner">
        <div className="brand">
          <Link to="/" className="product">
            label-ledger
          </Link>
          <SyncStatus />
        </div>
        <WalletBar />
      </header>
      <nav aria-label="Main" className="main-nav">
        <ul>
          {NAV.map((entry) => (
            <li key={entry.to}>
              <NavLink to={entry.to}>
                {entry.label}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<p className="muted">Loading…</p>}>
          <Outlet />
        </Suspense>
      </main>
    </>
  );
}
