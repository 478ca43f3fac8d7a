// What the annotator's labels earned, what is claimable on chain now, and the claim itself: the
// wallet sends the ready `claim`/`claimMany` transaction of the proof bundle.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import type { Address, Hex } from "viem";
import { useConfig, useSendTransaction } from "wagmi";
import { waitForTransactionReceipt } from "wagmi/actions";

import { api, call, type Schemas } from "../api/client";
import { ApiError } from "../api/errors";
import { useSession } from "../api/session";
import { Amount } from "../chain/Amount";
import { useService } from "../chain/service";
import { ErrorNotice } from "../ui/ErrorNotice";
import { RequireSignIn } from "../ui/RequireSignIn";

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

function claimable(bundle: Bundle): boolean {
  return bundle.entitlements.some((e) => e.claimable_payment > 0 || e.claimable_reward > 0);
}

function Claim() {
  const current = useSession();
  const { labelToken } = useService();
  const config = useConfig();
  const queryClient = useQueryClient();
  const bundle = useQuery({ queryKey: ["claim"], queryFn: () => call(api.GET("/v1/me/claim")) });
  const { sendTransactionAsync } = useSendTransaction();
  const [step, setStep] = useState<"idle" | "signing" | "mining" | "done">("idle");
  const [failure, setFailure] = useState<unknown>(null);
  const { chain } = useService();

  async function claim(ready: Bundle) {
    setFailure(null);
    try {
      setStep("signing");
      const hash = await sendTransactionAsync({ to: ready.to as Address, data: ready.data as Hex, chainId: chain.id });
      setStep("mining");
      const receipt = await waitForTransactionReceipt(config, { hash, chainId: chain.id });
      if (receipt.status !== "success") throw new Error(`the claim transaction ${hash} reverted`);
      setStep("done");
      await queryClient.invalidateQueries();
    } catch (error) {
      setFailure(error);
      setStep("idle");
    }
  }

  const proofs = current === null ? null : `/v1/proofs/${current.address}`;
  if (bundle.error instanceof ApiError && bundle.error.code === "nothing_to_claim") {
    return <p>Nothing to claim yet: {bundle.error.message}.</p>;
  }
  if (bundle.error) return <ErrorNotice error={bundle.error} />;
  if (!bundle.data) return <p className="muted">Loading…</p>;
  const ready = bundle.data;
  return (
    <>
      <p>
        Epoch {ready.epoch} (accepted on chain){ready.pending && `; epoch ${ready.pending.epoch} is proposed and not claimable yet`}.
      </p>
      <ul>
        {ready.entitlements.map((e) => (
          <li key={e.token}>
            Claimable now: <Amount token={e.token} value={e.claimable_payment} /> and{" "}
            <Amount token={labelToken} value={e.claimable_reward} /> (claimed so far:{" "}
            <Amount token={e.token} value={e.claimed_payment} /> and <Amount token={labelToken} value={e.claimed_reward} />)
          </li>
        ))}
      </ul>
      {step === "done" ? null : claimable(ready) ? (
        <button type="button" className="primary" disabled={step === "signing" || step === "mining"} onClick={() => void claim(ready)}>
          Claim
        </button>
      ) : (
        <p>Nothing left to claim: everything this epoch owes you is paid.</p>
      )}
      <p role="status">
        {step === "signing" && "Confirm the transaction in your wallet…"}
        {step === "mining" && "Sent; waiting for the chain to include it…"}
        {step === "done" && "Claimed: the tokens are in your wallet."}
      </p>
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
