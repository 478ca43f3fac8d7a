// @ts-check
/**
 * What exists before a person opens the app, made through the real API and the real chain from
 * Node: a buyer signs in with EIP-4361, creates a dataset of classes, uploads items, creates and
 * funds it on the ledger from their wallet, and the service sees the deposit (status `open`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createWalletClient, defineChain, http, publicActions } from 'viem';
import { createSiweMessage } from 'viem/siwe';
import { REPO_ROOT } from './paths.js';

/** dUSD and LABEL both have 6 decimals. */
export const UNIT = 1_000_000;

/** The ABI of a compiled contract, from Hardhat's artifacts (the one source of every ABI). */
export function abiOf(/** @type {string} */ source, /** @type {string} */ name) {
  const file = path.join(REPO_ROOT, 'artifacts', 'contracts', source, `${name}.json`);
  return /** @type {import('viem').Abi} */ (JSON.parse(readFileSync(file, 'utf8')).abi);
}

export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(`${status} ${code}: ${message}`);
    this.status = status;
    this.code = code;
  }
}

/** One wallet's session with the API, signed in from Node as a wallet would. */
export class ApiUser {
  /**
   * @param {string} url the API's base URL
   * @param {{ address: `0x${string}`, account: import('viem').HDAccount }} dev
   */
  constructor(url, dev) {
    this.url = url;
    this.dev = dev;
    this.address = dev.address;
    /** @type {string | null} */
    this.token = null;
  }

  /**
   * @param {string} method
   * @param {string} route
   * @param {{ json?: unknown, body?: string, contentType?: string }} [options]
   * @returns {Promise<any>}
   */
  async request(method, route, options = {}) {
    /** @type {Record<string, string>} */
    const headers = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let body = options.body;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.contentType) {
      headers['content-type'] = options.contentType;
    }
    const response = await fetch(`${this.url}${route}`, { method, headers, body });
    const text = await response.text();
    const answer = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const error = answer?.error ?? {};
      throw new ApiError(response.status, error.code ?? '?', error.message ?? text);
    }
    return answer;
  }

  get(/** @type {string} */ route) {
    return this.request('GET', route);
  }

  post(/** @type {string} */ route, /** @type {unknown} */ json = undefined) {
    return this.request('POST', route, json === undefined ? {} : { json });
  }

  /** EIP-4361: the message built from the nonce answer's fields, signed, exchanged for a token. */
  async signIn(/** @type {string[]} */ ...roles) {
    const message = await signInMessage(this.url, this.address);
    const signature = await this.dev.account.signMessage({ message });
    const session = await this.post('/v1/auth/session', { message, signature });
    this.token = session.access_token;
    for (const role of roles) await this.post('/v1/me/roles', { role });
    return this;
  }
}

/**
 * An EIP-4361 message for `address`, from a fresh nonce and the fields the API asks for.
 * @param {string} url
 * @param {`0x${string}`} address
 */
export async function signInMessage(url, address) {
  const response = await fetch(`${url}/v1/auth/nonce`, { method: 'POST' });
  if (!response.ok) throw new Error(`POST /v1/auth/nonce answered ${response.status}`);
  const nonce = await response.json();
  const issuedAt = new Date();
  return createSiweMessage({
    address,
    chainId: nonce.chain_id,
    domain: nonce.domain,
    uri: nonce.uri,
    nonce: nonce.nonce,
    statement: nonce.statement,
    version: '1',
    issuedAt,
    expirationTime: new Date(issuedAt.getTime() + 10 * 60_000),
  });
}

/** A viem client that signs with `dev`'s key and sends to the product's chain. */
export function walletClientOf(
  /** @type {import('./product.js').Product} */ product,
  /** @type {{ account: import('viem').HDAccount }} */ dev,
) {
  const chain = defineChain({
    id: product.chainId,
    name: 'Anvil',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [product.rpcUrl] } },
  });
  return createWalletClient({ account: dev.account, chain, transport: http(product.rpcUrl) }).extend(
    publicActions,
  );
}

/** Short texts to classify: what the workspace shows as the item's data. */
/** @type {readonly (readonly [string, string])[]} */
export const PET_SENTENCES = Object.freeze([
  ['pet-01', 'A tabby curls up on the warm windowsill and purrs.'],
  ['pet-02', 'The retriever drops a soggy ball at my feet again.'],
  ['pet-03', 'A robin hops along the fence, a worm in its beak.'],
  ['pet-04', 'Our kitten chases the laser dot under the sofa.'],
  ['pet-05', 'The puppy howls whenever the doorbell rings.'],
  ['pet-06', 'Two sparrows bathe in the puddle by the gate.'],
]);

/**
 * Creates, fills and funds a classes dataset, and waits until the service has seen the deposit.
 * @param {import('./product.js').Product} product
 * @param {{ address: `0x${string}`, account: import('viem').HDAccount }} buyerDev
 * @param {{ name: string, classes: string[], items: readonly (readonly [string, string])[],
 *   instructions: string, verification?: Record<string, unknown> }} spec `verification` as the
 *   API takes it (e.g. `{ overlap: 2 }`); the budget covers every item's places twice over
 */
export async function seedClassesDataset(product, buyerDev, spec) {
  const buyer = await new ApiUser(product.url, buyerDev).signIn('buyer');
  const price = UNIT / 4; // 0.25 dUSD
  const reward = UNIT; // 1 LABEL
  const created = await buyer.post('/v1/datasets', {
    name: spec.name,
    label_classes: spec.classes,
    payment_token: product.paymentToken,
    price_per_label: price,
    reward_per_label: reward,
    instructions: spec.instructions,
    ...(spec.verification ? { verification: spec.verification } : {}),
  });
  const route = `/v1/datasets/${created.id}`;
  await buyer.post(
    `${route}/items`,
    spec.items.map(([id, text]) => ({ id, data: { text } })),
  );
  // The salt commits to the terms as they stand: read it after the last change.
  const { chain: terms } = await buyer.get(route);
  const places = Number(spec.verification?.overlap ?? 1);
  const budget = BigInt(price * spec.items.length * places * 2); // room for the fee on top of each debit
  const dataset = await fundUntilOpen(product, buyerDev, buyer, route, terms, budget);
  return { buyer, dataset, price, reward };
}

/**
 * Like seedClassesDataset, with terms of one's own (`verification`, e.g. a gold warm-up) and
 * gold items (`gold`: external id -> known answer) among the items.
 * @param {import('./product.js').Product} product
 * @param {{ address: `0x${string}`, account: import('viem').HDAccount }} buyerDev
 * @param {{ name: string, classes: string[], items: readonly (readonly [string, string])[],
 *   instructions: string, verification?: Record<string, unknown>, gold?: Record<string, string> }} spec
 */
export async function seedDatasetWithTerms(product, buyerDev, spec) {
  const buyer = await new ApiUser(product.url, buyerDev).signIn('buyer');
  const price = UNIT / 4;
  const reward = UNIT;
  const created = await buyer.post('/v1/datasets', {
    name: spec.name,
    label_classes: spec.classes,
    payment_token: product.paymentToken,
    price_per_label: price,
    reward_per_label: reward,
    instructions: spec.instructions,
    verification: spec.verification ?? {},
  });
  const route = `/v1/datasets/${created.id}`;
  const gold = spec.gold ?? {};
  await buyer.post(
    `${route}/items`,
    spec.items.map(([id, text]) => (id in gold ? { id, data: { text }, gold: gold[id] } : { id, data: { text } })),
  );
  const { chain: terms } = await buyer.get(route);
  // gold items take up to gold_overlap labels each: room for all of them, and the fee
  const labels = spec.items.length * Number(spec.verification?.gold_overlap ?? 10);
  const budget = BigInt(price * labels * 2);
  const dataset = await fundUntilOpen(product, buyerDev, buyer, route, terms, budget);
  return { buyer, dataset, price, reward };
}

/**
 * Creates, fills and funds a dataset of any label kind (`labelType`, a name from GET /v1/kinds),
 * with items whose data is any JSON value (a picture's URL, an audio clip's, a prompt and two
 * answers), and waits until the service has seen the deposit.
 * @param {import('./product.js').Product} product
 * @param {{ address: `0x${string}`, account: import('viem').HDAccount }} buyerDev
 * @param {{ name: string, labelType: string, classes: string[],
 *   items: readonly { id: string, data: unknown }[], instructions: string,
 *   verification?: Record<string, unknown> }} spec
 */
export async function seedKindDataset(product, buyerDev, spec) {
  const buyer = await new ApiUser(product.url, buyerDev).signIn('buyer');
  const price = UNIT / 4;
  const reward = UNIT;
  const created = await buyer.post('/v1/datasets', {
    name: spec.name,
    label_type: spec.labelType,
    label_classes: spec.classes,
    payment_token: product.paymentToken,
    price_per_label: price,
    reward_per_label: reward,
    instructions: spec.instructions,
    verification: spec.verification ?? {},
  });
  const route = `/v1/datasets/${created.id}`;
  await buyer.post(`${route}/items`, spec.items.map(({ id, data }) => ({ id, data })));
  const { chain: terms } = await buyer.get(route);
  const places = Number(spec.verification?.overlap ?? 1);
  const budget = BigInt(price * spec.items.length * places * 2);
  const dataset = await fundUntilOpen(product, buyerDev, buyer, route, terms, budget);
  return { buyer, dataset, price, reward };
}

/**
 * A reviewer of the dataset, appointed by its buyer and signed in from Node (for seeding the
 * reviewer's part: reviews and dispute decisions through the API).
 * @param {import('./product.js').Product} product
 * @param {ApiUser} buyer
 * @param {number} datasetId
 * @param {{ address: `0x${string}`, account: import('viem').HDAccount }} reviewerDev
 */
export async function appointedReviewer(product, buyer, datasetId, reviewerDev) {
  await buyer.post(`/v1/datasets/${datasetId}/reviewers`, { address: reviewerDev.address });
  return new ApiUser(product.url, reviewerDev).signIn();
}

/**
 * `count` labels by `annotator` through the API (next-item, then the label `valueOf` the item
 * gives): what an annotator did before the story opens the app. Returns them as the API did.
 * @param {ApiUser} annotator
 * @param {number} datasetId
 * @param {number} count
 * @param {(item: any) => string} valueOf
 */
export async function labelThroughApi(annotator, datasetId, count, valueOf) {
  const made = [];
  for (let n = 0; n < count; n += 1) {
    const item = await annotator.get(`/v1/datasets/${datasetId}/next-item`);
    made.push(await annotator.post('/v1/labels', { item_id: item.item_id, value: valueOf(item) }));
  }
  return made;
}

/**
 * The buyer's chain part of seeding: mint `budget` dUSD, approve the ledger, `createAndFund` the
 * dataset at `route` with its terms' salt, then wait until the service has seen it open.
 * @param {import('./product.js').Product} product
 * @param {{ address: `0x${string}`, account: import('viem').HDAccount }} buyerDev
 * @param {ApiUser} buyer signed in as the buyer
 * @param {string} route the dataset's API route
 * @param {{ salt: string, token_index: number }} terms the dataset's `chain` part, read last
 * @param {bigint} budget base units of dUSD to lock
 */
export async function fundUntilOpen(product, buyerDev, buyer, route, terms, budget) {
  const wallet = walletClientOf(product, buyerDev);
  const token = { address: product.paymentToken, abi: abiOf('dev/DevStablecoin.sol', 'DevStablecoin') };
  const ledger = { address: product.ledger, abi: abiOf('LabelLedger.sol', 'LabelLedger') };
  for (const call of [
    { ...token, functionName: 'mint', args: [buyer.address, budget] },
    { ...token, functionName: 'approve', args: [product.ledger, budget] },
    { ...ledger, functionName: 'createAndFund', args: [terms.salt, terms.token_index, budget] },
  ]) {
    const hash = await wallet.writeContract(call);
    const receipt = await wallet.waitForTransactionReceipt({ hash });
    if (receipt.status !== 'success') throw new Error(`${call.functionName} reverted: ${hash}`);
  }
  const deadline = Date.now() + 60_000;
  for (;;) {
    const dataset = await buyer.get(route);
    if (dataset.status === 'open') return dataset;
    if (Date.now() > deadline) {
      throw new Error(`${route} is still ${dataset.status} 60s after funding: is the mirror running?`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
