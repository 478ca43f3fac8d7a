// Who the signed-in account is, the roles it holds, the ones it may take, and its balances as the
// chain holds them.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type Address, erc20Abi } from "viem";
import { useReadContracts } from "wagmi";

import { api, call, type Schemas } from "../api/client";
import { useService } from "../chain/service";
import { tokenUnits, useToken } from "../chain/tokens";
import { ErrorNotice } from "../ui/ErrorNotice";
import { RequireSignIn } from "../ui/RequireSignIn";

type Role = Schemas["Role"];

const ROLES: { role: Role; does: string }[] = [
  { role: "annotator", does: "label items of open datasets and be paid per verified label" },
  { role: "buyer", does: "create and fund datasets, upload items, appoint reviewers" },
  { role: "reviewer", does: "accept or reject labels of the datasets a buyer appointed you to" },
  { role: "auditor", does: "check epochs, roots and proofs against the chain" },
];

function Balance({ token, account }: { token: Address; account: Address }) {
  const { facts, error: tokenError } = useToken(token);
  const { data, error } = useReadContracts({
    allowFailure: false,
    contracts: [{ address: token, abi: erc20Abi, functionName: "balanceOf", args: [account] }],
  });
  if (error || tokenError) return <li><ErrorNotice error={error ?? tokenError} /></li>;
  if (!facts || data === undefined) return <li>…</li>;
  return (
    <li>
      <span className="amount">
        {tokenUnits(data[0], facts.decimals)} {facts.symbol}
      </span>
    </li>
  );
}

function Roles() {
  const queryClient = useQueryClient();
  const me = useQuery({ queryKey: ["me"], queryFn: () => call(api.GET("/v1/me")) });
  const take = useMutation({
    mutationFn: (role: Role) => call(api.POST("/v1/me/roles", { body: { role } })),
    onSuccess: (answer) => {
      queryClient.setQueryData(["me"], answer);
      void queryClient.invalidateQueries({ queryKey: ["datasets"] });
    },
  });
  const service = useService();
  if (me.error) return <ErrorNotice error={me.error} />;
  if (!me.data) return <p className="muted">Loading…</p>;
  const held = new Set(me.data.roles);
  const account = me.data.address as Address;
  return (
    <>
      <p>
        Signed in as <code className="address-full">{account}</code>
      </p>
      <h2>Your roles</h2>
      {held.size === 0 ? (
        <p>You hold no role yet: take the ones you work in below.</p>
      ) : (
        <ul>
          {[...held].map((role) => (
            <li key={role}>{role}</li>
          ))}
        </ul>
      )}
      <h2>Roles you may take</h2>
      <ul className="role-list">
        {ROLES.filter(({ role }) => !held.has(role)).map(({ role, does }) =>
          role === "reviewer" ? (
            // not self-service: the API refuses it (role_not_self_service), so no button offers it
            <li key={role}>
              <strong>Reviewer</strong>{" "}
              <span className="muted">
                (to {does}): a dataset's buyer appoints its reviewers. Give the buyer your address
                above; once appointed, the role is yours and Review appears in the menu.
              </span>
            </li>
          ) : (
            <li key={role}>
              <button
                type="button"
                disabled={take.isPending}
                onClick={() => take.mutate(role)}
                aria-describedby={`role-${role}`}
              >
                Take the {role} role
              </button>{" "}
              <span id={`role-${role}`} className="muted">
                to {does}.
              </span>
            </li>
          ),
        )}
      </ul>
      {take.error && <ErrorNotice error={take.error} />}
      <h2>Balances on chain</h2>
      <ul>
        {[...service.paymentTokens, service.labelToken].map((token) => (
          <Balance key={token} token={token} account={account} />
        ))}
      </ul>
    </>
  );
}

export default function AccountPage() {
  return (
    <>
      <h1>Account</h1>
      <RequireSignIn what="your roles and balances">
        <Roles />
      </RequireSignIn>
    </>
  );
}
