// The roots an epoch's proofs are checked against, established from the chain alone: the
// ledger's views are read through the wallet's provider or the service's public RPC (never the
// API), and the published manifest is trusted only because its hash and roots reproduce the
// commitment the ledger stored when the epoch was proposed.
import { encodeAbiParameters, keccak256, parseAbi, stringToBytes, zeroHash, type Address, type Hex } from "viem";
import type { Config } from "wagmi";
import { readContract } from "wagmi/actions";

/** The ledger's epoch views (contracts/interfaces/ILabelLedger.sol). */
export const ledgerEpochViews = parseAbi([
  "function payoutRoot() view returns (bytes32)",
  "function acceptedEpoch() view returns (uint64)",
  "function pendingEpoch() view returns (uint64 epoch, bytes32 root, uint40 proposedAt)",
  "function epochCommitment(uint64 epoch) view returns (bytes32)",
  "function tokenAt(uint16 index) view returns (address)",
]);

/** OpenZeppelin standard-v1 leaf encodings (ledger/publication.py, contracts/libraries). */
export const PAYOUT_LEAF_ENCODING = ["address", "uint16", "uint256", "uint256"];
export const LABEL_LEAF_ENCODING = ["uint256", "bytes32", "address", "bytes32", "uint8", "uint256", "uint256"];

export interface ChainRoots {
  epoch: number;
  payoutRoot: Hex;
  labelRoot: Hex;
  contentHash: Hex;
  /** Where the epoch stands on chain: the one claims are paid against, an older one, or proposed. */
  standing: "accepted" | "earlier" | "pending";
  acceptedEpoch: number;
}

/** Why the roots of an epoch cannot be taken from the chain, in words. */
export class RootsUnavailable extends Error {
  override name = "RootsUnavailable";
}

/** The manifest of epoch `epoch` as the service publishes it, byte for byte. */
async function publishedManifest(epoch: number): Promise<string> {
  const response = await fetch(`/v1/published/epochs/${epoch}/manifest.json`);
  if (!response.ok) {
    throw new RootsUnavailable(
      `The service publishes no manifest for epoch ${epoch} (it answered ${response.status}); without it the label root cannot be matched to the chain's commitment.`,
    );
  }
  return response.text();
}

export async function rootsOnChain(config: Config, ledger: Address, chainId: number, epoch: number): Promise<ChainRoots> {
  const read = { address: ledger, abi: ledgerEpochViews, chainId } as const;
  const [commitment, accepted, currentRoot] = await Promise.all([
    readContract(config, { ...read, functionName: "epochCommitment", args: [BigInt(epoch)] }),
    readContract(config, { ...read, functionName: "acceptedEpoch" }),
    readContract(config, { ...read, functionName: "payoutRoot" }),
  ]);
  if (commitment === zeroHash) {
    throw new RootsUnavailable(
      `The ledger at ${ledger} holds no commitment for epoch ${epoch}: it was never proposed there, or it was revoked.`,
    );
  }
  const text = await publishedManifest(epoch);
  const contentHash = keccak256(stringToBytes(text));
  const manifest = JSON.parse(text) as { epoch?: number; payoutRoot?: Hex; labelRoot?: Hex };
  if (manifest.epoch !== epoch || manifest.payoutRoot === undefined || manifest.labelRoot === undefined) {
    throw new RootsUnavailable(`The published manifest of epoch ${epoch} does not name that epoch and its two roots.`);
  }
  const recomputed = keccak256(
    encodeAbiParameters(
      [{ type: "bytes32" }, { type: "bytes32" }, { type: "bytes32" }],
      [manifest.payoutRoot, manifest.labelRoot, contentHash],
    ),
  );
  if (recomputed !== commitment) {
    throw new RootsUnavailable(
      `The published manifest of epoch ${epoch} does not match the commitment on chain (${commitment}): its roots cannot be trusted.`,
    );
  }
  const acceptedEpoch = Number(accepted);
  if (epoch === acceptedEpoch && currentRoot !== manifest.payoutRoot) {
    throw new RootsUnavailable(`The ledger's payout root ${currentRoot} is not the one committed for epoch ${epoch}.`);
  }
  return {
    epoch,
    payoutRoot: manifest.payoutRoot,
    labelRoot: manifest.labelRoot,
    contentHash,
    standing: epoch === acceptedEpoch ? "accepted" : epoch < acceptedEpoch ? "earlier" : "pending",
    acceptedEpoch,
  };
}
