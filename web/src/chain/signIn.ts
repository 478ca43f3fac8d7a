// Sign-In with Ethereum (EIP-4361) through the service's own endpoints: the message's domain, URI,
// chain id and statement come from the nonce answer, the wallet signs it, and the service trades
// the signature for a bearer token.
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { createSiweMessage } from "viem/siwe";
import { useAccount, useSignMessage } from "wagmi";

import { api, call } from "../api/client";
import { session } from "../api/session";

/** How long a session may last, as the message asks (the service caps it at its own limit). */
const SESSION_HOURS = 12;

export function useSignIn() {
  const { address } = useAccount();
  const { signMessageAsync } = useSignMessage();
  const queryClient = useQueryClient();
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function signIn(): Promise<void> {
    if (address === undefined) return;
    setPending(true);
    setError(null);
    try {
      const nonce = await call(api.POST("/v1/auth/nonce"));
      const message = createSiweMessage({
        address,
        chainId: nonce.chain_id,
        domain: nonce.domain,
        uri: nonce.uri,
        nonce: nonce.nonce,
        statement: nonce.statement,
        version: "1",
        issuedAt: new Date(),
        // The session lasts until then, or the service's own limit if that comes first.
        expirationTime: new Date(Date.now() + SESSION_HOURS * 3600 * 1000),
      });
      const signature = await signMessageAsync({ message });
      const opened = await call(api.POST("/v1/auth/session", { body: { message, signature } }));
      queryClient.clear(); // nothing read for another account may show for this one
      session.start({
        token: opened.access_token,
        address: opened.address as `0x${string}`,
        expiresAt: opened.expires_at,
      });
    } catch (failure) {
      setError(failure);
    } finally {
      setPending(false);
    }
  }

  return { signIn, pending, error };
}

export function useSignOut() {
  const queryClient = useQueryClient();
  return () => {
    session.signOut();
    queryClient.clear();
  };
}
