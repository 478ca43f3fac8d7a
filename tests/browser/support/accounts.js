// @ts-check
/**
 * Who plays which part: Anvil's well-known dev accounts, each funded with ETH on a fresh chain.
 *
 * Anvil derives its ten dev accounts from one public test mnemonic; `ledger/chain/devnode.py`
 * names the first two keys (DEV_KEYS), and `up` makes the first one the deployer and operator.
 * The operator's key sends the settlement job's transactions, so no test wallet uses it: two
 * senders on one key would race for nonces. Every part below has its own key, so tests that
 * share one `up` never share a nonce or a session.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { mnemonicToAccount } from 'viem/accounts';
import { bytesToHex } from 'viem';
import { REPO_ROOT } from './paths.js';

const ANVIL_MNEMONIC = 'test test test test test test test test test test test junk';

/** Anvil's dev account `index` (0..9 are funded on a fresh chain). */
export function devAccount(/** @type {number} */ index) {
  const hd = mnemonicToAccount(ANVIL_MNEMONIC, { addressIndex: index });
  const key = hd.getHdKey().privateKey;
  if (!key) throw new Error(`no private key for dev account ${index}`);
  return { index, address: hd.address, privateKey: bytesToHex(key), account: hd };
}

/** The keys of ledger/chain/devnode.py's DEV_KEYS, read from the source (one list of keys). */
export function ledgerDevKeys() {
  const source = readFileSync(path.join(REPO_ROOT, 'ledger', 'chain', 'devnode.py'), 'utf8');
  const block = source.match(/DEV_KEYS = \(([^)]*)\)/);
  if (!block) throw new Error('DEV_KEYS not found in ledger/chain/devnode.py');
  return [...block[1].matchAll(/"(0x[0-9a-f]{64})"/g)].map((match) => match[1]);
}

/** The parts the tests play, by their index among Anvil's dev accounts (0 is the operator). */
export const PARTS = Object.freeze({
  operator: 0,
  buyer: 2,
  annotator: 3,
  wrongChainAnnotator: 4,
  secondAnnotator: 7,
  reviewer: 5,
  harness: 6,
});
