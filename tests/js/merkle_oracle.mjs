// Reference oracle for ledger/merkle.py: runs @openzeppelin/merkle-tree (the specification of the
// "standard-v1" format) on requests read as JSON from stdin, and prints one JSON answer to stdout.
//
// Requests:
//   {"op": "build", "encoding": [...], "values": [...], "sortLeaves"?: bool, "proofIndices"?: [...]}
//     -> {"dump": JSON.stringify(tree.dump()), "root": ..., "proofs": [tree.getProof(i), ...],
//         "valueProofs": [tree.getProof(values[i]), ...]}
//         "multiproofs": [tree.getMultiProof(indices), ...] for each list in request.multiproofs}
//     for every value index i, or only for those in proofIndices (the JS library hashes slowly:
//     ~0.1 ms per leaf hash, and each getProof re-hashes its leaf)
//   {"op": "verify", "dump": {...}, "proofs": [{"value": [...], "proof": [...]}, ...]}
//     -> {"root": ..., "dump": JSON.stringify of the loaded tree's dump,
//         "results": [StandardMerkleTree.verify(root, encoding, value, proof), ...]}
//        or {"error": message} when load/validate rejects the dump.  A proof check that throws
//        gives null in "results".
//   {"op": "batch", "requests": [request, ...]} -> {"results": [answer, ...]}
//     (one node start for many requests keeps the Python test suite fast)
//
// Usage: node tests/js/merkle_oracle.mjs < request.json
import merkleTree from '@openzeppelin/merkle-tree';

const { StandardMerkleTree } = merkleTree;

function build(request) {
  const tree = StandardMerkleTree.of(request.values, request.encoding, {
    sortLeaves: request.sortLeaves ?? true,
  });
  const indices = request.proofIndices ?? request.values.map((_, i) => i);
  return {
    dump: JSON.stringify(tree.dump()),
    root: tree.root,
    proofs: indices.map(i => tree.getProof(i)),
    valueProofs: indices.map(i => tree.getProof(request.values[i])),
    multiproofs: (request.multiproofs ?? []).map(ix => tree.getMultiProof(ix)),
  };
}

function verify(request) {
  let tree;
  try {
    tree = StandardMerkleTree.load(request.dump);
    tree.validate();
  } catch (error) {
    return { error: String(error?.message ?? error) };
  }
  const results = request.proofs.map(({ value, proof }) => {
    try {
      return StandardMerkleTree.verify(tree.root, tree.leafEncoding, value, proof);
    } catch {
      return null;
    }
  });
  return { root: tree.root, dump: JSON.stringify(tree.dump()), results };
}

function handle(request) {
  switch (request.op) {
    case 'build':
      return build(request);
    case 'verify':
      return verify(request);
    case 'batch':
      return { results: request.requests.map(handle) };
    default:
      throw new Error(`unknown op ${JSON.stringify(request.op)}`);
  }
}

const chunks = [];
for await (const chunk of process.stdin) {
  chunks.push(chunk);
}
process.stdout.write(JSON.stringify(handle(JSON.parse(Buffer.concat(chunks).toString('utf8')))));
