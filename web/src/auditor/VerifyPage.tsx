// The auditor checks proofs in the browser: a proof bundle (pasted, loaded from a file, or
// fetched for an address) or a single leaf, each leaf verified with @openzeppelin/merkle-tree
// against the roots the chain holds. Needs no sign-in: the bundle and the manifest are public.
import { useState, type ChangeEvent, type FormEvent } from "react";
import { isAddress } from "viem";
import { useConfig } from "wagmi";

import { parseJson, stringifyJson } from "../api/json";
import { Amount } from "../chain/Amount";
import { useService } from "../chain/service";
import { type ChainRoots, rootsOnChain } from "./chainRoots";
import { AuditCommand } from "./AuditCommand";
import { AuditorError } from "./AuditorError";
import { type LeafVerdict, parseProofInput, type ProofInput, ProofInputError, verifyLeaf } from "./proofs";

interface Outcome {
  input: ProofInput;
  roots: ChainRoots;
  verdicts: LeafVerdict[];
  notes: string[];
}

const STANDING: Record<ChainRoots["standing"], string> = {
  accepted: "the accepted epoch: claims are paid against its payout root",
  earlier: "an earlier epoch, superseded by a later accepted one (its roots stay committed on chain)",
  pending: "proposed and not accepted yet: not claimable",
};

function Result({ outcome }: { outcome: Outcome }) {
  const { labelToken } = useService();
  const { input, roots, verdicts, notes } = outcome;
  const failed = verdicts.filter((v) => !v.valid).length;
  return (
    <section aria-labelledby="verdict-heading" className="auditor-result">
      <h2 id="verdict-heading">
        {failed === 0
          ? `All ${verdicts.length} ${verdicts.length === 1 ? "leaf is" : "leaves are"} valid against the root on chain`
          : `${failed} of ${verdicts.length} ${verdicts.length === 1 ? "leaf" : "leaves"} failed`}
      </h2>
      <dl className="facts auditor-roots">
        <div>
          <dt>Epoch</dt>
          <dd>
            {roots.epoch}: {STANDING[roots.standing]}
          </dd>
        </div>
        <div>
          <dt>Payout root (committed on chain)</dt>
          <dd>
            <code className="hash">{roots.payoutRoot}</code>
          </dd>
        </div>
        <div>
          <dt>Label root (committed on chain)</dt>
          <dd>
            <code className="hash">{roots.labelRoot}</code>
          </dd>
        </div>
      </dl>
      {notes.length > 0 && (
        <ul className="auditor-notes">
          {notes.map((note) => (
            <li key={note}>{note}</li>
          ))}
        </ul>
      )}
      <ol className="auditor-leaves">
        {input.leaves.map((leaf, index) => {
          const verdict = verdicts[index];
          if (verdict === undefined) return null;
          return (
            <li key={index} className={verdict.valid ? "auditor-valid" : "auditor-invalid"}>
              <p>
                <strong>{leaf.title}</strong>
                {leaf.payout && (
                  <>
                    : cumulative <Amount token={leaf.payout.token} value={leaf.payout.payment} /> and{" "}
                    <Amount token={labelToken} value={leaf.payout.reward} />
                  </>
                )}
              </p>
              <p>
                {verdict.valid ? (
                  <span className="status-verified">✓ valid against the root on chain</span>
                ) : (
                  <span className="status-rejected">✗ invalid: {verdict.problem}</span>
                )}
              </p>
            </li>
          );
        })}
      </ol>
    </section>
  );
}

export default function VerifyPage() {
  const service = useService();
  const config = useConfig();
  const [text, setText] = useState("");
  const [address, setAddress] = useState("");
  const [busy, setBusy] = useState<"fetching" | "verifying" | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);

  async function fetchBundle(event: FormEvent) {
    event.preventDefault();
    setFailure(null);
    setOutcome(null);
    if (!isAddress(address.trim())) {
      setFailure(new ProofInputError(`"${address}" is not an address: paste the annotator's 0x… address (40 hex digits).`));
      return;
    }
    setBusy("fetching");
    try {
      const response = await fetch(`/v1/proofs/${address.trim()}`);
      const body = await response.text();
      if (!response.ok) {
        const message = (JSON.parse(body) as { error?: { message?: string } }).error?.message;
        throw new ProofInputError(`No proof bundle for ${address.trim()}: ${message ?? response.statusText}.`);
      }
      setText(stringifyJson(parseJson(body), 2)); // amounts beyond 2^53 as sent, not rounded
    } catch (error) {
      setFailure(error);
    } finally {
      setBusy(null);
    }
  }

  async function loadFile(event: ChangeEvent<HTMLInputElement>) {
    const file = event.target.files?.[0];
    if (!file) return;
    setFailure(null);
    setOutcome(null);
    setText(await file.text());
  }

  async function verify(event: FormEvent) {
    event.preventDefault();
    setFailure(null);
    setOutcome(null);
    setBusy("verifying");
    try {
      const input = parseProofInput(text);
      const roots = await rootsOnChain(config, service.ledger, service.chain.id, input.epoch);
      const notes: string[] = [];
      if (input.ledger !== undefined && input.ledger.toLowerCase() !== service.ledger.toLowerCase()) {
        notes.push(`The bundle names the ledger ${input.ledger}; this service's ledger, read here, is ${service.ledger}.`);
      }
      if (input.claimedPayoutRoot !== undefined && input.claimedPayoutRoot.toLowerCase() !== roots.payoutRoot) {
        notes.push(`The bundle's own payout root ${input.claimedPayoutRoot} is not the one on chain; its leaves are checked against the chain's.`);
      }
      if (input.claimedLabelRoot !== undefined && input.claimedLabelRoot.toLowerCase() !== roots.labelRoot) {
        notes.push(`The bundle's own label root ${input.claimedLabelRoot} is not the one on chain; its leaves are checked against the chain's.`);
      }
      if (input.leaves.length === 0) notes.push("The bundle holds no leaf to check.");
      setOutcome({ input, roots, verdicts: input.leaves.map((leaf) => verifyLeaf(leaf, roots)), notes });
    } catch (error) {
      setFailure(error);
    } finally {
      setBusy(null);
    }
  }

  return (
    <>
      <h1>Verify a proof</h1>
      <p>
        Checks each leaf of a proof bundle, or a single leaf, with OpenZeppelin&apos;s{" "}
        <code>StandardMerkleTree.verify</code> against the roots the ledger holds on chain. The chain is read
        through {service.rpcUrl === null ? "your wallet's provider" : <>the public RPC {service.rpcUrl}</>}, not
        through this service; the service&apos;s published manifest is used only after its hash and roots reproduce
        the commitment stored on chain.
      </p>

      <form className="auditor-fetch" onSubmit={(event) => void fetchBundle(event)}>
        <label htmlFor="bundle-address">Annotator&apos;s address</label>
        <div className="auditor-row">
          <input
            id="bundle-address"
            name="address"
            autoComplete="off"
            spellCheck={false}
            placeholder="0x…"
            value={address}
            onChange={(event) => setAddress(event.target.value)}
          />
          <button type="submit" disabled={busy !== null}>
            Fetch their proof bundle
          </button>
        </div>
      </form>

      <form className="auditor-verify" onSubmit={(event) => void verify(event)}>
        <label htmlFor="bundle-file">Or load a proof bundle file</label>
        <input id="bundle-file" type="file" accept="application/json,.json" onChange={(event) => void loadFile(event)} />
        <label htmlFor="bundle-text">Proof bundle or single leaf (JSON)</label>
        <p id="bundle-text-help" className="muted">
          A bundle as <code>GET /v1/proofs/&#123;address&#125;</code> downloads it, or a single leaf:{" "}
          <code>{'{"epoch": 1, "tree": "payout" or "label", "leaf": [...], "proof": ["0x…"]}'}</code>.
        </p>
        <textarea
          id="bundle-text"
          aria-describedby="bundle-text-help"
          rows={12}
          spellCheck={false}
          value={text}
          onChange={(event) => setText(event.target.value)}
        />
        <button type="submit" className="primary" disabled={busy !== null || text.trim() === ""}>
          Verify against the chain
        </button>
      </form>
      <p role="status">
        {busy === "fetching" && "Fetching the proof bundle…"}
        {busy === "verifying" && "Reading the roots from the chain…"}
      </p>
      {failure !== null && <AuditorError error={failure} />}
      {outcome && <Result outcome={outcome} />}
      <AuditCommand />
    </>
  );
}
