// Funding from the wallet: `approve` the ledger, then `createAndFund(salt, token_index, amount)`;
// a top-up of a dataset already on chain is one `fundWithPermit` where the token has ERC-2612
// permits (the wallet signs the permit, no approve), else `approve` then `fund`. Each step's
// state and hash shown. The dataset turns open when the service's chain mirror sees the deposit.
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { type Address, erc20Abi, type Hex, parseAbi, parseSignature, parseUnits } from "viem";
import { useAccount, useConfig, useReadContracts, useSignTypedData, useWriteContract } from "wagmi";
import { waitForTransactionReceipt } from "wagmi/actions";

import { useSession } from "../api/session";
import { useService } from "../chain/service";
import { tokenUnits, useToken } from "../chain/tokens";
import { ErrorNotice } from "../ui/ErrorNotice";
import type { Dataset } from "./queries";

const LEDGER_ABI = parseAbi([
  "function createAndFund(bytes32 salt, uint16 token, uint256 amount) returns (uint256)",
  "function fund(uint256 datasetId, uint256 amount)",
  "function fundWithPermit(uint256 datasetId, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)",
]);

const FEE_ABI = parseAbi(["function feeBps() view returns (uint16)"]);

/** How many labels each item may be paid for: its overlap, or consensus's most annotators. */
function labelsPerItem(dataset: Dataset): number {
  const v = dataset.verification;
  return v.method === "consensus" ? v.consensus_max_k : v.overlap;
}

/** What the escrow needs to pay every label of the items uploaded so far, fee on top (the
 * ledger's fee rounds down, as on chain). */
function Needed({ dataset, onUse }: { dataset: Dataset; onUse: (units: string) => void }) {
  const { facts } = useToken(dataset.payment_token as Address);
  const ledgerFee = useReadContracts({
    allowFailure: false,
    contracts: [{ address: dataset.chain.ledger as Address, abi: FEE_ABI, functionName: "feeBps" }],
    query: { enabled: dataset.chain.fee_bps === null },
  });
  const fee = dataset.chain.fee_bps ?? ledgerFee.data?.[0];
  if (!facts || fee === undefined) return null;
  const price = BigInt(dataset.price_per_label);
  const perLabel = price + (price * BigInt(fee)) / 10_000n;
  const show = (value: bigint) => `${tokenUnits(value, facts.decimals)} ${facts.symbol}`;
  if (dataset.item_count === 0) {
    return (
      <p className="muted">
        Each paid label costs {show(perLabel)} from the escrow (the price, and the {fee / 100}% fee on top).
      </p>
    );
  }
  const labels = BigInt(dataset.item_count * labelsPerItem(dataset));
  const debit = labels * price;
  const total = debit + (debit * BigInt(fee)) / 10_000n;
  const missing = total - BigInt(dataset.chain.available);
  return (
    <p className="muted">
      Paying every label of the {dataset.item_count} items uploaded so far ({String(labels)} labels at most) takes{" "}
      {show(total)}, the {fee / 100}% fee included;{" "}
      {missing > 0n ? (
        <>
          the escrow lacks {show(missing)}.{" "}
          <button type="button" className="link-button" onClick={() => onUse(tokenUnits(missing, facts.decimals))}>
            Fund what is missing
          </button>
        </>
      ) : (
        "the escrow holds enough."
      )}
    </p>
  );
}

/** ERC-2612 permits and the ERC-5267 domain they are signed in. */
const PERMIT_ABI = parseAbi([
  "function nonces(address owner) view returns (uint256)",
  "function eip712Domain() view returns (bytes1 fields, string name, string version, uint256 chainId, address verifyingContract, bytes32 salt, uint256[] extensions)",
]);

const PERMIT_TYPES = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

type TxState =
  | "not sent yet"
  | "waiting for your wallet"
  | "sent, waiting for the chain"
  | "signed"
  | "confirmed"
  | "failed";

interface Tx {
  what: string;
  state: TxState;
  hash?: Hex;
}

/** `onSent` receives the total deposited once the deposit is on chain, in base units (exactly: a
 * bigint, as amounts beyond 2^53 arrive from the API). */
export function Funding({ dataset, onSent }: { dataset: Dataset; onSent: (funded: bigint) => void }) {
  const { chain } = useService();
  const config = useConfig();
  const queryClient = useQueryClient();
  const current = useSession();
  const { address, isConnected } = useAccount();
  const { writeContractAsync } = useWriteContract();
  const { signTypedDataAsync } = useSignTypedData();
  // Where both reads answer, the token takes permits: a top-up needs no approve.
  const permit = useReadContracts({
    allowFailure: false,
    contracts: [
      { address: dataset.payment_token as Address, abi: PERMIT_ABI, functionName: "eip712Domain" },
      {
        address: dataset.payment_token as Address,
        abi: PERMIT_ABI,
        functionName: "nonces",
        args: [(address ?? dataset.buyer) as Address],
      },
    ],
    query: { retry: false },
  });
  const { facts } = useToken(dataset.payment_token as Address);
  const [amount, setAmount] = useState("");
  const [txs, setTxs] = useState<Tx[]>([]);
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const onChain = dataset.chain.status !== null;
  const tokenIndex = dataset.chain.token_index;

  async function step(index: number, what: string, send: () => Promise<Hex>) {
    const update = (tx: Tx) => setTxs((all) => all.map((t, i) => (i === index ? tx : t)));
    update({ what, state: "waiting for your wallet" });
    const hash = await send();
    update({ what, state: "sent, waiting for the chain", hash });
    const receipt = await waitForTransactionReceipt(config, { hash, chainId: chain.id });
    if (receipt.status !== "success") {
      update({ what, state: "failed", hash });
      throw new Error(`The ${what} transaction ${hash} reverted on chain.`);
    }
    update({ what, state: "confirmed", hash });
  }

  async function fund() {
    setFailure(null);
    if (!facts) return;
    let value: bigint;
    try {
      value = parseUnits(amount.trim(), facts.decimals);
    } catch {
      value = 0n;
    }
    if (!/^[0-9]+(\.[0-9]+)?$/.test(amount.trim()) || value <= 0n) {
      setFailure(new Error(`Type the amount as a number of ${facts.symbol} greater than 0, e.g. 10.`));
      return;
    }
    const token = dataset.payment_token as Address;
    const ledger = dataset.chain.ledger as Address;
    if (onChain && permit.data && address !== undefined) {
      await topUpWithPermit(token, ledger, value, address);
      return;
    }
    const last = onChain ? "fund" : "createAndFund";
    setTxs([
      { what: "approve", state: "not sent yet" },
      { what: last, state: "not sent yet" },
    ]);
    setBusy(true);
    try {
      await step(0, "approve", () =>
        writeContractAsync({ address: token, abi: erc20Abi, functionName: "approve", args: [ledger, value], chainId: chain.id }),
      );
      await step(1, last, () =>
        onChain
          ? writeContractAsync({
              address: ledger,
              abi: LEDGER_ABI,
              functionName: "fund",
              args: [BigInt(dataset.chain.dataset_id), value],
              chainId: chain.id,
            })
          : writeContractAsync({
              address: ledger,
              abi: LEDGER_ABI,
              functionName: "createAndFund",
              args: [dataset.chain.salt as Hex, tokenIndex ?? 0, value],
              chainId: chain.id,
            }),
      );
      onSent(BigInt(dataset.chain.funded) + value);
      setAmount("");
      await queryClient.invalidateQueries({ queryKey: ["dataset", dataset.id] });
    } catch (error) {
      setFailure(error);
      setTxs((all) => all.map((t) => (t.state === "waiting for your wallet" ? { ...t, state: "failed" } : t)));
    } finally {
      setBusy(false);
    }
  }

  async function topUpWithPermit(token: Address, ledger: Address, value: bigint, owner: Address) {
    const [[, name, version, chainId, verifyingContract], nonce] = permit.data ?? [[], 0n];
    setTxs([
      { what: "permit (a signature, no transaction)", state: "not sent yet" },
      { what: "fundWithPermit", state: "not sent yet" },
    ]);
    setBusy(true);
    try {
      setTxs((all) => all.map((t, i) => (i === 0 ? { ...t, state: "waiting for your wallet" } : t)));
      const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
      const signature = await signTypedDataAsync({
        domain: { name, version, chainId, verifyingContract: verifyingContract ?? token },
        types: PERMIT_TYPES,
        primaryType: "Permit",
        message: { owner, spender: ledger, value, nonce, deadline },
      });
      setTxs((all) => all.map((t, i) => (i === 0 ? { ...t, state: "signed" } : t)));
      const { r, s, v, yParity } = parseSignature(signature);
      await step(1, "fundWithPermit", () =>
        writeContractAsync({
          address: ledger,
          abi: LEDGER_ABI,
          functionName: "fundWithPermit",
          args: [BigInt(dataset.chain.dataset_id), value, deadline, Number(v ?? BigInt(yParity + 27)), r, s],
          chainId: chain.id,
        }),
      );
      onSent(BigInt(dataset.chain.funded) + value);
      setAmount("");
      await permit.refetch();
      await queryClient.invalidateQueries({ queryKey: ["dataset", dataset.id] });
    } catch (error) {
      setFailure(error);
      setTxs((all) => all.map((t) => (t.state === "waiting for your wallet" ? { ...t, state: "failed" } : t)));
    } finally {
      setBusy(false);
    }
  }

  if (tokenIndex === null) {
    return (
      <div className="notice notice-error" role="alert">
        <p>The ledger does not list this dataset's payment token: it cannot be funded.</p>
        <p className="next-step">Create a new dataset with a token from the list the form offers.</p>
      </div>
    );
  }
  const wrongAccount =
    isConnected && current !== null && address !== undefined && address.toLowerCase() !== current.address.toLowerCase();
  return (
    <>
      <p>
        {onChain
          ? permit.data
            ? "Top up the escrow: your wallet signs a permit (no transaction), then sends fundWithPermit to the ledger."
            : "Top up the escrow: your wallet sends approve, then fund on the ledger."
          : "Your wallet sends two transactions: approve (the ledger may take the amount), then createAndFund (the ledger records the terms hash above and takes the amount into escrow)."}{" "}
        The platform fee{dataset.chain.fee_bps !== null ? ` (${dataset.chain.fee_bps / 100}%)` : ""} is paid from the escrow on top of each label it pays.
      </p>
      <Needed dataset={dataset} onUse={setAmount} />
      {!isConnected && <p className="notice">Connect your wallet at the top of the page to fund the dataset.</p>}
      {wrongAccount && (
        <p className="notice notice-warning">
          Your wallet is on another account than the one you signed in with: switch to it in your wallet.
        </p>
      )}
      <form
        className="buyer-inline"
        onSubmit={(event) => {
          event.preventDefault();
          void fund();
        }}
      >
        <label htmlFor="fund-amount">Amount{facts ? ` (${facts.symbol})` : ""}</label>
        <input id="fund-amount" inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} />
        <button type="submit" className="primary" disabled={busy || !isConnected || wrongAccount || !facts}>
          {onChain ? "Top up from my wallet" : "Fund from my wallet"}
        </button>
      </form>
      {txs.length > 0 && (
        <ol className="buyer-txs" aria-label="Transactions">
          {txs.map((tx) => (
            <li key={tx.what}>
              <strong>{tx.what}</strong>: <span>{tx.state}</span>
              {tx.hash && (
                <>
                  {" "}
                  <code className="hash">{tx.hash}</code>
                </>
              )}
            </li>
          ))}
        </ol>
      )}
      {failure !== null && <ErrorNotice error={failure} />}
    </>
  );
}
