// What an auditor pastes or loads: an annotator's proof bundle (GET /v1/proofs/{address}) or a
// single leaf with its proof; each leaf checked with @openzeppelin/merkle-tree against the roots
// the chain holds.
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

import { parseJson } from "../api/json";
import { type ChainRoots, LABEL_LEAF_ENCODING, PAYOUT_LEAF_ENCODING } from "./chainRoots";

export type TreeName = "payout" | "label";

export interface LeafToCheck {
  tree: TreeName;
  /** What the leaf says, in a person's words, e.g. "payout entitlement in token 0x…". */
  title: string;
  leaf: unknown[];
  proof: string[];
  /** For payout leaves: the token and amounts, shown in token units. */
  payout?: { token: string; payment: string; reward: string };
}

export interface ProofInput {
  epoch: number;
  leaves: LeafToCheck[];
  /** The roots the input itself claims, compared with the chain's (a bundle names them). */
  claimedPayoutRoot?: string;
  claimedLabelRoot?: string;
  ledger?: string;
  account?: string;
}

export class ProofInputError extends Error {
  override name = "ProofInputError";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringList(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new ProofInputError(`${what} must be a list of hex strings.`);
  }
  return value as string[];
}

function epochOf(value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new ProofInputError('"epoch" must be the epoch number (a whole number from 1).');
  }
  return value;
}

function amount(value: unknown, what: string): string {
  // parseJson reads an amount beyond 2^53 as a bigint of exactly its digits
  if (typeof value === "bigint" && value >= 0n) return value.toString();
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return String(value);
  if (typeof value === "string" && /^[0-9]+$/.test(value)) return value;
  throw new ProofInputError(`${what} must be a whole number of base units.`);
}

/** A proof bundle, or `{"epoch", "tree": "payout"|"label", "leaf", "proof"}`, from JSON text. */
export function parseProofInput(text: string): ProofInput {
  let parsed: unknown;
  try {
    parsed = parseJson(text); // exact: a cumulative amount beyond 2^53 is not rounded
  } catch (error) {
    throw new ProofInputError(`This is not JSON (${error instanceof Error ? error.message : String(error)}).`);
  }
  if (!isRecord(parsed)) throw new ProofInputError("Expected a JSON object: a proof bundle or a single leaf.");

  if (Array.isArray(parsed["entitlements"])) {
    const account = parsed["account"];
    if (typeof account !== "string") throw new ProofInputError('The bundle names no "account".');
    const leaves: LeafToCheck[] = [];
    for (const [index, raw] of (parsed["entitlements"] as unknown[]).entries()) {
      if (!isRecord(raw)) throw new ProofInputError(`Entitlement ${index + 1} is not an object.`);
      const token = raw["token"];
      if (typeof token !== "string") throw new ProofInputError(`Entitlement ${index + 1} names no token.`);
      const payment = amount(raw["cumulative_payment"], `Entitlement ${index + 1}'s cumulative_payment`);
      const reward = amount(raw["cumulative_reward"], `Entitlement ${index + 1}'s cumulative_reward`);
      leaves.push({
        tree: "payout",
        title: `Payout entitlement ${index + 1}`,
        leaf: [account, raw["token_index"], BigInt(payment), BigInt(reward)],
        proof: stringList(raw["proof"], `Entitlement ${index + 1}'s proof`),
        payout: { token, payment, reward },
      });
    }
    const labels = Array.isArray(parsed["labels"]) ? (parsed["labels"] as unknown[]) : [];
    for (const [index, raw] of labels.entries()) {
      if (!isRecord(raw) || !Array.isArray(raw["leaf"])) throw new ProofInputError(`Label ${index + 1} has no leaf.`);
      leaves.push({
        tree: "label",
        title: `Paid label ${index + 1}${typeof raw["method"] === "string" ? ` (verified by ${raw["method"]})` : ""}`,
        leaf: raw["leaf"] as unknown[],
        proof: stringList(raw["proof"], `Label ${index + 1}'s proof`),
      });
    }
    return {
      epoch: epochOf(parsed["epoch"]),
      leaves,
      claimedPayoutRoot: typeof parsed["root"] === "string" ? parsed["root"] : undefined,
      claimedLabelRoot: typeof parsed["label_root"] === "string" ? parsed["label_root"] : undefined,
      ledger: typeof parsed["ledger"] === "string" ? parsed["ledger"] : undefined,
      account,
    };
  }

  const tree = parsed["tree"];
  if (tree !== "payout" && tree !== "label") {
    throw new ProofInputError(
      'Expected a proof bundle (with "entitlements") or a single leaf: {"epoch": 1, "tree": "payout" or "label", "leaf": [...], "proof": [...]}.',
    );
  }
  if (!Array.isArray(parsed["leaf"])) throw new ProofInputError('"leaf" must be the list of the leaf\'s values.');
  return {
    epoch: epochOf(parsed["epoch"]),
    leaves: [
      {
        tree,
        title: tree === "payout" ? "Payout leaf" : "Label leaf",
        leaf: parsed["leaf"] as unknown[],
        proof: stringList(parsed["proof"], '"proof"'),
      },
    ],
  };
}

export interface LeafVerdict {
  valid: boolean;
  /** Why it failed, in words; empty when valid. */
  problem: string;
}

/** The leaf checked with StandardMerkleTree.verify against the chain's root of its tree. */
export function verifyLeaf(check: LeafToCheck, roots: ChainRoots): LeafVerdict {
  const [root, encoding] =
    check.tree === "payout" ? [roots.payoutRoot, PAYOUT_LEAF_ENCODING] : [roots.labelRoot, LABEL_LEAF_ENCODING];
  if (check.leaf.length !== encoding.length) {
    return {
      valid: false,
      problem: `A ${check.tree} leaf has ${encoding.length} values (${encoding.join(", ")}); this one has ${check.leaf.length}.`,
    };
  }
  try {
    if (StandardMerkleTree.verify(root, encoding, check.leaf, check.proof)) return { valid: true, problem: "" };
    return {
      valid: false,
      problem: `Not in the ${check.tree} tree whose root is on chain: the leaf's values or its proof were changed, or it belongs to another epoch.`,
    };
  } catch (error) {
    return {
      valid: false,
      problem: `The leaf cannot be encoded as ${encoding.join(", ")} (${error instanceof Error ? error.message : String(error)}).`,
    };
  }
}
