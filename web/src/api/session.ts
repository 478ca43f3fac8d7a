// The signed-in session: the bearer token from POST /v1/auth/session, kept in sessionStorage (it
// lives as long as the tab, and no other site can read it). A 401 from the API ends it, and the
// banner offers "Sign in" again with a word on why.
import { useSyncExternalStore } from "react";
import type { Address } from "viem";

export interface Session {
  token: string;
  address: Address;
  expiresAt: string;
}

export type SessionEnd = "expired" | null;

const KEY = "label-ledger.session";

function read(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (raw === null) return null;
    const stored = JSON.parse(raw) as Session;
    return Date.parse(stored.expiresAt) > Date.now() ? stored : null;
  } catch {
    return null;
  }
}

let current: Session | null = read();
let ended: SessionEnd = null;
const listeners = new Set<() => void>();

function publish(next: Session | null, end: SessionEnd): void {
  current = next;
  ended = end;
  if (next === null) sessionStorage.removeItem(KEY);
  else sessionStorage.setItem(KEY, JSON.stringify(next));
  for (const listener of listeners) listener();
}

export const session = {
  get: (): Session | null => current,
  ended: (): SessionEnd => ended,
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  start: (opened: Session): void => publish(opened, null),
  signOut: (): void => publish(null, null),
  /** The API answered 401: the token expired or was revoked. */
  expire(): void {
    if (current !== null) publish(null, "expired");
  },
};

export function useSession(): Session | null {
  return useSyncExternalStore(session.subscribe, session.get);
}

export function useSessionEnd(): SessionEnd {
  return useSyncExternalStore(session.subscribe, session.ended);
}
