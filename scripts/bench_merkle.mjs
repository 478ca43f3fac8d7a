// The JS side of scripts/bench_merkle.py: @openzeppelin/merkle-tree building, dumping and proving
// every leaf of the tree bench_merkle.py builds with ledger/merkle.py, on the same leaf values.
//
// Usage: node scripts/bench_merkle.mjs INPUT.json DUMP_OUT
//   INPUT.json: {"encoding": [...], "values": [...], "sortLeaves": bool}
//   Writes JSON.stringify(tree.dump()) to DUMP_OUT (UTF-8) for a byte-for-byte comparison.
//   stdout: one JSON line {"build": s, "dump": s, "prove": s, "root": ..., "dumpBytes": n,
//           "proofsSha256": hex of sha256 over every proof as "p0,p1,...\n" in value order}
//   stderr: progress lines "progress PHASE DONE TOTAL" for the Python side's progress bar.
// Only build, JSON.stringify(tree.dump()) and getProof for every value index are timed; reading
// the input, writing the dump and digesting the proofs are not.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import merkleTree from '@openzeppelin/merkle-tree';

const { StandardMerkleTree } = merkleTree;
const [inputPath, dumpPath] = process.argv.slice(2);
const input = JSON.parse(readFileSync(inputPath, 'utf8'));
const { values, encoding } = input;
const count = values.length;
const progress = (phase, done) => process.stderr.write(`progress ${phase} ${done} ${count}\n`);
const PROGRESS_EVERY = 10_000;

progress('build', 0);
let start = performance.now();
const tree = StandardMerkleTree.of(values, encoding, { sortLeaves: input.sortLeaves });
const build = (performance.now() - start) / 1000;
progress('build', count);

progress('dump', 0);
start = performance.now();
const dumpText = JSON.stringify(tree.dump());
const dump = (performance.now() - start) / 1000;
progress('dump', count);

progress('prove', 0);
const proofs = new Array(count);
start = performance.now();
for (let i = 0; i < count; i++) {
  proofs[i] = tree.getProof(i);
  // A stderr write every 10k proofs is noise next to 10k getProof calls.
  if ((i + 1) % PROGRESS_EVERY === 0) progress('prove', i + 1);
}
const prove = (performance.now() - start) / 1000;
progress('prove', count);

writeFileSync(dumpPath, dumpText, 'utf8');
const digest = createHash('sha256');
for (const proof of proofs) digest.update(proof.join(',') + '\n');
process.stdout.write(
  JSON.stringify({
    build,
    dump,
    prove,
    root: tree.root,
    dumpBytes: Buffer.byteLength(dumpText, 'utf8'),
    proofsSha256: digest.digest('hex'),
  }) + '\n',
);
