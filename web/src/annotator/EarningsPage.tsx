// What the annotator's labels earned, what is claimable on chain now, and the claim itself: the
// wallet sends the ready `claim`/`claimMany` transaction of the proof bundle. What is claimed is
// also read from the ledger itself, so a claim the service's chain mirror has not seen yet is
// neither offered again nor sent again; meanwhile the bundle is read again until the mirror has.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { type Address, type Hex, parseAbi, zeroAddress } from "viem";
import { useConfig, useReadContracts, useSendTransaction } from "wagmi";
import { waitForTransactionReceipt } from "wagmi/actions";

import { api, call, type Schemas } from "../api/client";
import { ApiError } from "../api/errors";
import { useSession } from "../api/session";
import { Amount } from "../chain/Amount";
import { useService } from "../chain/service";
import { ErrorNotice } from "../ui/ErrorNotice";
import { RequireSignIn } from "../ui/RequireSignIn";
import { claimBundleQuery } from "./queries";

type Bundle = Schemas["ClaimBundle"];

function Earnings() {
  const { data, error } = useQuery({ queryKey: ["earnings"], queryFn: () => call(api.GET("/v1/me/earnings")) });
  if (error) return <ErrorNotice error={error} />;
  if (!data) return <p className="muted">Loading…</p>;
  const tokens = Object.keys({ ...data.earned, ...data.unsettled });
  return (
    <>
      <dl className="facts">
        <div>
          <dt>Labels pending</dt>
          <dd>{data.pending}</dd>
        </div>
        <div>
          <dt>Verified</dt>
          <dd>{data.verified}</dd>
        </div>
        <div>
          <dt>Rejected</dt>
          <dd>{data.rejected}</dd>
        </div>
        <div>
          <dt>Paid in an epoch</dt>
          <dd>{data.paid_labels}</dd>
        </div>
      </dl>
      {tokens.length > 0 && (
        <div className="table-scroll">
          <table>
            <caption>Earned per token</caption>
            <thead>
              <tr>
                <th scope="col">Earned by verified labels</th>
                <th scope="col">Not yet in an epoch</th>
              </tr>
            </thead>
            <tbody>
              {tokens.map((token) => (
                <tr key={token}>
                  <td>
                    <Amount token={token} value={data.earned[token] ?? 0} />
                  </td>
                  <td>
                    <Amount token={token} value={data.unsettled[token] ?? 0} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

/** The ledger's record of what an account has claimed (contracts/interfaces/ILabelLedger.sol). */
const ledgerClaimedView = parseAbi([
  "function claimed(address account, uint16 token) view returns (uint256 payment, uint256 reward)",
]);

/** What the chain says `account` has claimed so far, per payment token index, read through
 * wagmi's public client (never the API's mirror, which may lag the chain). Here, not in
 * ./queries.ts: the workspace imports that module, and needs none of wagmi's reads. */
function useClaimedOnChain(ledger: Address | undefined, account: Address | undefined, tokenIndexes: number[]) {
  const { chain } = useService();
  const read = useReadContracts({
    allowFailure: false,
    contracts: tokenIndexes.map(
      (token) =>
        ({
          address: ledger ?? zeroAddress,
          abi: ledgerClaimedView,
          functionName: "claimed",
          args: [account ?? zeroAddress, token],
          chainId: chain.id,
        }) as const,
    ),
    query: { enabled: ledger !== undefined && account !== undefined && tokenIndexes.length > 0, retry: 1 },
  });
  return read;
}

/** What an account has claimed of one payment token, in base units. */
interface Claimed {
  payment: bigint;
  reward: bigint;
}

type Entitlement = Bundle["entitlements"][number];

/** How long the page re-reads the claim bundle, once a second, for the service's chain mirror to
 * see a claim the chain has paid. */
const WAIT_FOR_SERVICE_MS = 60_000;

const larger = (a: bigint, b: bigint) => (a > b ? a : b);

/** The chain's claimed amounts by payment token index, from the reads (in the entitlements' order). */
function byToken(bundle: Bundle, answer: readonly (readonly [bigint, bigint])[] | undefined): Map<number, Claimed> | null {
  if (answer === undefined || answer.length !== bundle.entitlements.length) return null;
  return new Map(
    bundle.entitlements.map((e, i) => {
      const [payment, reward] = answer[i] ?? [0n, 0n];
      return [e.token_index, { payment, reward }];
    }),
  );
}

/** One entitlement as it stands: claimed is the larger of what the service's mirror has seen and
 * what the chain says (the chain is never behind its own payments); claimable is the rest. */
function standing(e: Entitlement, onChain: Claimed | undefined) {
  const claimedPayment = larger(BigInt(e.claimed_payment), onChain?.payment ?? 0n);
  const claimedReward = larger(BigInt(e.claimed_reward), onChain?.reward ?? 0n);
  return {
    claimedPayment,
    claimedReward,
    claimablePayment: larger(BigInt(e.cumulative_payment) - claimedPayment, 0n),
    claimableReward: larger(BigInt(e.cumulative_reward) - claimedReward, 0n),
  };
}

function anythingLeft(bundle: Bundle, onChain: Map<number, Claimed> | null): boolean {
  return bundle.entitlements.some((e) => {
    const now = standing(e, onChain?.get(e.token_index));
    return now.claimablePayment > 0n || now.claimableReward > 0n;
  });
}

/** Whether the chain has paid more than the service's mirror has seen yet. */
function serviceBehind(bundle: Bundle, onChain: Map<number, Claimed> | null): boolean {
  if (onChain === null) return false;
  return bundle.entitlements.some((e) => {
    const paid = onChain.get(e.token_index);
    return paid !== undefined && (paid.payment > BigInt(e.claimed_payment) || paid.reward > BigInt(e.claimed_reward));
  });
}

type Step = "idle" | "checking" | "signing" | "mining" | "done" | "nothing";

function Claim() {
  const current = useSession();
  const { labelToken, chain } = useService();
  const config = useConfig();
  const queryClient = useQueryClient();
  const bundle = useQuery(claimBundleQuery);
  const ready = bundle.data;
  const onChain = useClaimedOnChain(
    ready?.ledger as Address | undefined,
    ready?.account as Address | undefined,
    ready?.entitlements.map((e) => e.token_index) ?? [],
  );
  const paid = ready === undefined ? null : byToken(ready, onChain.data);
  const behind = ready !== undefined && serviceBehind(ready, paid);
  const { sendTransactionAsync } = useSendTransaction();
  const [step, setStep] = useState<Step>("idle");
  const [gaveUp, setGaveUp] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);
  const refetchBundle = bundle.refetch;
  const refetchOnChain = onChain.refetch;

  // The chain has paid more than the service has seen (just now, or in an earlier visit): read
  // the bundle again every second until the mirror catches up, for a minute at most.
  useEffect(() => {
    if (!behind) return;
    const started = Date.now();
    const timer = setInterval(() => {
      if (Date.now() - started > WAIT_FOR_SERVICE_MS) {
        clearInterval(timer);
        setGaveUp(true);
        return;
      }
      void refetchBundle();
    }, 1000);
    return () => clearInterval(timer);
  }, [behind, refetchBundle]);

  async function claim(offered: Bundle) {
    setFailure(null);
    setGaveUp(false);
    try {
      // What the chain has paid already is never sent for again: a press on a stale page (the
      // claim made in another tab, or by anyone for us) costs no gas.
      setStep("checking");
      const fresh = await refetchOnChain();
      if (fresh.data !== undefined && !anythingLeft(offered, byToken(offered, fresh.data))) {
        setStep("nothing");
        return;
      }
      setStep("signing");
      const hash = await sendTransactionAsync({ to: offered.to as Address, data: offered.data as Hex, chainId: chain.id });
      setStep("mining");
      const receipt = await waitForTransactionReceipt(config, { hash, chainId: chain.id });
      if (receipt.status !== "success") {
        throw new Error(`The claim transaction ${hash} reverted on chain: nothing was paid. Reload the page and try again.`);
      }
      await refetchOnChain();
      setStep("done");
      void queryClient.invalidateQueries({ queryKey: ["earnings"] });
      void refetchBundle();
    } catch (error) {
      setFailure(error);
      setStep("idle");
    }
  }

  const proofs = current === null ? null : `/v1/proofs/${current.address}`;
  if (bundle.error instanceof ApiError && bundle.error.code === "nothing_to_claim") {
    return <p>Nothing to claim yet: {bundle.error.message}.</p>;
  }
  if (bundle.error && !ready) return <ErrorNotice error={bundle.error} />;
  if (!ready) return <p className="muted">Loading…</p>;
  const busy = step === "checking" || step === "signing" || step === "mining";
  const waiting = gaveUp
    ? "The chain has paid your claim, but the service has not seen it after a minute: its record of the chain is behind. The tokens are in your wallet; reload this page later to see the service catch up."
    : "The chain has paid your claim; waiting for the service to see your claim…";
  let said: string | null = null;
  if (step === "checking") said = "Checking on chain what is left to claim…";
  else if (step === "signing") said = "Confirm the transaction in your wallet…";
  else if (step === "mining") said = "Sent; waiting for the chain to include it…";
  else if (step === "nothing") {
    said = `Nothing left to claim: the chain has paid everything this epoch owes you already, so no transaction was sent.${behind ? ` ${waiting}` : ""}`;
  } else if (behind) said = waiting;
  else if (step === "done") said = "Claimed: the tokens are in your wallet.";
  return (
    <>
      <p>
        Epoch {ready.epoch} (accepted on chain){ready.pending && `; epoch ${ready.pending.epoch} is proposed and not claimable yet`}.
      </p>
      <ul>
        {ready.entitlements.map((e) => {
          const now = standing(e, paid?.get(e.token_index));
          return (
            <li key={e.token}>
              Claimable now: <Amount token={e.token} value={now.claimablePayment} /> and{" "}
              <Amount token={labelToken} value={now.claimableReward} /> (claimed so far:{" "}
              <Amount token={e.token} value={now.claimedPayment} /> and <Amount token={labelToken} value={now.claimedReward} />)
            </li>
          );
        })}
      </ul>
      {busy || anythingLeft(ready, paid) ? (
        <button type="button" className="primary" disabled={busy} onClick={() => void claim(ready)}>
          Claim
        </button>
      ) : (
        <p>Nothing left to claim: everything this epoch owes you is paid.</p>
      )}
      <p role="status">{said}</p>
      {failure !== null && <ErrorNotice error={failure} />}
      {proofs && (
        <p>
          <a href={proofs} download>
            Download your proof bundle
          </a>{" "}
          <span className="muted">(keep it: with it anyone can claim for you from any wallet, without this service)</span>
        </p>
      )}
    </>
  );
}

export default function EarningsPage() {
  return (
    <>
      <h1>Earnings</h1>
      <RequireSignIn what="your earnings">
        <Earnings />
        <h2>Claim</h2>
        <Claim />
      </RequireSignIn>
    </>
  );
}
