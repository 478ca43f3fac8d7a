// Loads and validates standard-v1 dumps with the public @openzeppelin/merkle-tree library (each
// leaf hashed, the tree rebuilt) and prints each root: the JS side of ./scripts/bench-audit.
// Usage: node scripts/bench_audit_load.mjs DUMP.json ...
import { readFileSync } from 'node:fs';
import merkleTree from '@openzeppelin/merkle-tree';

const { StandardMerkleTree } = merkleTree;
for (const path of process.argv.slice(2)) {
  const tree = StandardMerkleTree.load(JSON.parse(readFileSync(path, 'utf8')));
  tree.validate();
  console.log(tree.root);
}
