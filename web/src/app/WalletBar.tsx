// The wallet part of the banner: connect a wallet the browser announces (EIP-6963), see its
// address and network, switch a wrong network, sign in and out.
import { useEffect, useState } from "react";
import { useAccount, useConnect, useConnectors, useDisconnect, useSwitchChain } from "wagmi";

import { useSession, useSessionEnd } from "../api/session";
import { useService, networkName } from "../chain/service";
import { useSignIn, useSignOut } from "../chain/signIn";
import { ErrorNotice } from "../ui/ErrorNotice";
import { shortAddress } from "../ui/format";

function ConnectWallet() {
  const connectors = useConnectors();
  const { connect, error, isPending } = useConnect();
  const [open, setOpen] = useState(false);
  return (
    <div className="connect">
      <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>
        Connect wallet
      </button>
      {open && (
        <div className="wallets">
          {connectors.length === 0 ? (
            <p>
              No wallet found in this browser. Install a browser wallet that supports EIP-6963
              (MetaMask, Rabby, Frame and most others do), then reload this page.
            </p>
          ) : (
            <ul>
              {connectors.map((connector) => (
                <li key={connector.uid}>
                  <button
                    type="button"
                    disabled={isPending}
                    onClick={() => connect({ connector }, { onSuccess: () => setOpen(false) })}
                  >
                    {connector.icon && <img src={connector.icon} alt="" width="20" height="20" />}
                    Connect {connector.name}
                  </button>
                </li>
              ))}
            </ul>
          )}
          {error && <ErrorNotice error={error} />}
        </div>
      )}
    </div>
  );
}

function WrongNetwork({ walletChainId }: { walletChainId: number }) {
  const { chain } = useService();
  const { switchChain, error, isPending } = useSwitchChain();
  return (
    <div className="notice notice-warning" role="alert">
      <p>
        Your wallet is on {networkName(walletChainId)}; label-ledger runs on {chain.name} (chain{" "}
        {chain.id}). Switch your wallet's network to sign and send.
      </p>
      <button type="button" disabled={isPending} onClick={() => switchChain({ chainId: chain.id })}>
        Switch to {chain.name}
      </button>
      {error && <ErrorNotice error={error} />}
    </div>
  );
}

function SignIn() {
  const { signIn, pending, error } = useSignIn();
  const ended = useSessionEnd();
  return (
    <div className="sign-in">
      {ended === "expired" && !error && (
        <p className="muted">Your session ended; sign in again to go on.</p>
      )}
      <button type="button" disabled={pending} onClick={() => void signIn()}>
        Sign in
      </button>
      {pending && <span className="muted"> Confirm the message in your wallet…</span>}
      {error !== null && <ErrorNotice error={error} />}
    </div>
  );
}

export function WalletBar() {
  const { address, chainId, status } = useAccount();
  const { disconnect } = useDisconnect();
  const service = useService();
  const current = useSession();
  const signOut = useSignOut();
  const otherAccount =
    status === "connected" && current !== null && current.address.toLowerCase() !== address?.toLowerCase();
  useEffect(() => {
    // The wallet moved to another account: the token speaks for the previous one.
    if (otherAccount) signOut();
  }, [otherAccount, signOut]);

  if (status !== "connected" || address === undefined) {
    return (
      <div className="wallet">
        {status === "reconnecting" ? <span className="muted">Reconnecting your wallet…</span> : <ConnectWallet />}
      </div>
    );
  }
  const signedIn = current !== null && current.address.toLowerCase() === address.toLowerCase();
  return (
    <div className="wallet">
      <p className="account">
        <span className="address" title={address}>
          {shortAddress(address)}
        </span>{" "}
        <span className="network">{networkName(chainId ?? 0)}</span>{" "}
        <button
          type="button"
          className="link-button"
          onClick={() => {
            signOut();
            disconnect();
          }}
        >
          Disconnect
        </button>
      </p>
      {chainId !== service.chain.id && <WrongNetwork walletChainId={chainId ?? 0} />}
      {signedIn ? (
        <p className="signed-in">
          <span>Signed in as {shortAddress(current.address)}</span>{" "}
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </p>
      ) : (
        <SignIn />
      )}
    </div>
  );
}
