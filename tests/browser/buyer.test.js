// @ts-check
/**
 * The buyer's story, driven as a person would in Debian's headless Chromium against a real `up`
 * with the Test Wallet: connect, sign in, take the buyer role, create a classes dataset through
 * the form, fund it through the wallet (approve and createAndFund, real transactions on Anvil; a
 * top-up signed as an ERC-2612 permit and sent as fundWithPermit),
 * upload a JSONL file of items, appoint a reviewer; then an annotator is served one of the items.
 * A private dataset's instructions and allowlist edited. On a dataset two annotators worked on: the
 * progress counts, the agreement charts, the delivered labels downloaded (JSONL and CSV), the
 * instructions edited into a new version, then closed through the wallet (requestClose, the
 * chain's clock moved past the grace period, finalizeClose) and the refund checked on chain.
 * Every page visited is checked with axe-core and photographed at desktop and phone sizes.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { erc20Abi, formatUnits } from 'viem';
import { devAccount, PARTS } from './support/accounts.js';
import { checkPage, launchBrowser, openApp as openAppWith, story } from './support/pages.js';
import { ARTIFACTS, REPO_ROOT } from './support/paths.js';
import { startProduct } from './support/product.js';
import { abiOf, ApiError, ApiUser, PET_SENTENCES, seedClassesDataset, UNIT, walletClientOf } from './support/seed.js';
import { TestWallet } from './support/wallet.js';

const DATASET = 'Which pet, by the buyer';
const CLASSES = ['cat', 'dog', 'bird'];
const ITEMS = PET_SENTENCES.slice(0, 4);
/** A second buyer, among Anvil's dev accounts that support/accounts.js gives no part. */
const SPANS_BUYER = 8;

/** The escrow's fact, as the buyer's and the annotator's dataset pages name it. */
const ESCROW = 'Escrow left (read from the chain)';

/**
 * The value shown beside a fact's name in the page's lists of facts.
 * @param {import('playwright-core').Page} page
 * @param {string} name
 */
function factOf(page, name) {
  const exact = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  return page.locator('.facts > div').filter({ has: page.getByRole('term').filter({ hasText: exact }) }).getByRole('definition');
}

/**
 * Anvil's JSON-RPC, for what no wallet sends (moving the chain's clock).
 * @param {string} rpcUrl
 * @param {string} method
 * @param {unknown[]} params
 */
async function rpc(rpcUrl, method, params) {
  const response = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const answer = await response.json();
  if (answer.error) throw new Error(`${method}: ${answer.error.message}`);
  return answer.result;
}

const noApp = existsSync(path.join(REPO_ROOT, 'web', 'package.json'))
  ? false
  : 'the web app (web/) is not in this checkout yet';

describe('a buyer with nothing but a wallet', { skip: noApp, timeout: 600_000 }, () => {
  /** @type {import('./support/product.js').Product} */
  let product;
  /** @type {import('playwright-core').Browser} */
  let browser;

  before(async () => {
    // No settlement job: the story that settles does it itself, when its counts are known.
    product = await startProduct({ name: 'buyer', upArgs: ['--settle-every', '0'] });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await product?.stop();
  });

  /**
   * @param {TestWallet} wallet
   * @param {string} name
   */
  async function openApp(wallet, name) {
    return openAppWith(browser, product.url, wallet, name);
  }

  test('creates a classes dataset through the form, funds it through the wallet, tops it up with a permit, uploads JSONL, CSV and JSON files, and an annotator is served one of its items', async () => {
    const dev = devAccount(PARTS.buyer);
    const chain = walletClientOf(product, dev);
    const dusd = { address: product.paymentToken, abi: erc20Abi };
    // The buyer's wallet holds dUSD before the story begins (the dev token mints to anyone).
    const minted = await chain.writeContract({
      address: product.paymentToken,
      abi: abiOf('dev/DevStablecoin.sol', 'DevStablecoin'),
      functionName: 'mint',
      args: [dev.address, BigInt(100 * UNIT)],
    });
    assert.equal((await chain.waitForTransactionReceipt({ hash: minted })).status, 'success');
    const balanceOf = (/** @type {`0x${string}`} */ who) =>
      chain.readContract({ ...dusd, functionName: 'balanceOf', args: [who] });

    const wallet = new TestWallet({ dev, rpcUrl: product.rpcUrl, chainId: product.chainId });
    const { context, page } = await openApp(wallet, 'buyer');
    try {
      const banner = page.getByRole('banner');
      await banner.getByRole('button', { name: 'Connect wallet' }).click();
      await page.getByRole('button', { name: 'Connect Test Wallet' }).click();
      const opened = page.waitForResponse(
        (response) => response.url().endsWith('/v1/auth/session') && response.request().method() === 'POST',
      );
      await banner.getByRole('button', { name: 'Sign in' }).click();
      const session = await opened;
      assert.equal(session.status(), 201, `sign-in refused: ${await session.text()}`);
      const buyer = new ApiUser(product.url, dev);
      buyer.token = (await session.json()).access_token;
      await banner.getByRole('button', { name: 'Sign out' }).waitFor();

      // Without the role, the page says where to take it.
      const navigation = page.getByRole('navigation');
      await navigation.getByRole('link', { name: 'My datasets' }).click();
      await page.waitForURL(/\/buyer$/);
      await page.getByRole('heading', { level: 1, name: 'My datasets' }).waitFor();
      await page.getByText('You do not hold the buyer role yet').waitFor();
      await checkPage(page, 'buyer-without-role');
      await page.getByRole('link', { name: 'Account page' }).click();
      await page.waitForURL(/\/account$/);
      await page.getByRole('button', { name: 'Take the buyer role' }).click();
      await page.getByRole('button', { name: 'Take the buyer role' }).waitFor({ state: 'detached' });
      assert.ok((await buyer.get('/v1/me')).roles.includes('buyer'), 'the service holds the buyer role');

      await navigation.getByRole('link', { name: 'My datasets' }).click();
      await page.getByText('You have no datasets yet').waitFor();
      await checkPage(page, 'buyer-datasets-empty');

      // The form: a repeated class is refused by the API, and said beside the Classes field.
      await page.getByRole('link', { name: 'Create a dataset' }).click();
      await page.waitForURL(/\/buyer\/new$/);
      await page.getByRole('heading', { level: 1, name: 'New dataset' }).waitFor();
      await page.getByLabel('Name').fill(DATASET);
      await page.getByRole('radio', { name: 'A class from a list' }).check();
      await page.getByLabel('Classes', { exact: true }).fill('cat\ncat');
      await page.getByLabel(/Price per verified label \(dUSD\)/).fill('0.25');
      await page.getByLabel(/Reward per verified label \(LABEL\)/).fill('1');
      await page.getByLabel('Instructions').fill('# Which animal?\n\nPick the animal the sentence is about.');
      await checkPage(page, 'buyer-new');
      await page.getByRole('button', { name: 'Create the dataset' }).click();
      const classes = page.getByLabel('Classes', { exact: true });
      await page.locator('#label_classes-error').filter({ hasText: /unique/ }).waitFor();
      assert.equal(await classes.getAttribute('aria-invalid'), 'true');
      assert.match((await classes.getAttribute('aria-describedby')) ?? '', /label_classes-error/);
      await page.getByRole('alert').filter({ hasText: 'The service refused the dataset' }).waitFor();
      await checkPage(page, 'buyer-new-refused');
      assert.deepEqual(await buyer.get('/v1/datasets'), [], 'a refused form stores nothing');

      await classes.fill(CLASSES.join('\n'));
      await page.getByRole('button', { name: 'Create the dataset' }).click();
      await page.waitForURL(/\/buyer\/datasets\/\d+$/);
      const id = Number(new URL(page.url()).pathname.split('/').pop());
      await page.getByRole('heading', { level: 1, name: DATASET }).waitFor();
      const stored = await buyer.get(`/v1/datasets/${id}`);
      assert.equal(stored.name, DATASET);
      assert.deepEqual(stored.label_classes, CLASSES);
      assert.equal(stored.price_per_label, UNIT / 4);
      assert.equal(stored.reward_per_label, UNIT);
      assert.equal(stored.status, 'awaiting_funds');
      await page.getByText(stored.chain.salt).waitFor(); // the terms hash
      await page.getByText('0.25 dUSD').first().waitFor();
      await page.getByText('1 LABEL').first().waitFor();
      await page.getByRole('status').filter({ hasText: 'awaiting funds' }).waitFor();
      await page.getByText(/Each paid label costs 0\.25 dUSD from the escrow \(the price, and the 0% fee on top\)/).waitFor();
      await checkPage(page, 'buyer-dataset-unfunded');

      // Funding: approve, then createAndFund, sent by the wallet; the page turns open.
      const before = await balanceOf(dev.address);
      const ledgerBefore = await balanceOf(product.ledger);
      const sentBefore = wallet.sent.length;
      await page.getByLabel('Amount (dUSD)').fill('3');
      await page.getByRole('button', { name: 'Fund from my wallet' }).click();
      const txs = page.getByRole('list', { name: 'Transactions' });
      await txs.getByRole('listitem').filter({ hasText: /^approve: confirmed 0x[0-9a-f]{64}$/ }).waitFor();
      await txs.getByRole('listitem').filter({ hasText: /^createAndFund: confirmed 0x[0-9a-f]{64}$/ }).waitFor({ timeout: 30_000 });
      await page.getByRole('status').filter({ hasText: /Status: open/ }).waitFor({ timeout: 60_000 });
      assert.equal(wallet.sent.length - sentBefore, 2, 'the wallet sent two transactions');
      for (const hash of wallet.sent.slice(sentBefore)) {
        await page.getByText(hash).waitFor();
        assert.equal((await chain.getTransactionReceipt({ hash })).status, 'success');
      }
      const funded = BigInt(3 * UNIT);
      assert.equal(before - (await balanceOf(dev.address)), funded, "the buyer's dUSD fell by the amount");
      assert.equal((await balanceOf(product.ledger)) - ledgerBefore, funded, 'the ledger holds it in escrow');
      const open = await buyer.get(`/v1/datasets/${id}`);
      assert.equal(open.status, 'open');
      assert.equal(open.chain.funded, 3 * UNIT);
      /** The value shown beside a fact's name in the page's lists of facts. */
      const fact = (/** @type {string} */ name) => factOf(page, name);
      await fact('Funded').filter({ hasText: /^3 dUSD$/ }).waitFor();
      await fact(ESCROW).filter({ hasText: /^3 dUSD$/ }).waitFor();
      await checkPage(page, 'buyer-dataset-funded');

      // A top-up: dUSD takes ERC-2612 permits, so the wallet signs one and sends one transaction.
      const signatures = () => wallet.requests.filter((method) => method === 'eth_signTypedData_v4').length;
      const [signedBefore, sentBeforeTopUp, balanceBeforeTopUp] = [signatures(), wallet.sent.length, await balanceOf(dev.address)];
      await page.getByLabel('Amount (dUSD)').fill('1');
      await page.getByRole('button', { name: 'Top up from my wallet' }).click();
      await txs.getByRole('listitem').filter({ hasText: /^permit \(a signature, no transaction\): signed$/ }).waitFor();
      await txs.getByRole('listitem').filter({ hasText: /^fundWithPermit: confirmed 0x[0-9a-f]{64}$/ }).waitFor({ timeout: 30_000 });
      await fact('Funded').filter({ hasText: /^4 dUSD$/ }).waitFor({ timeout: 60_000 });
      assert.equal(signatures() - signedBefore, 1, 'the wallet signed one permit');
      assert.equal(wallet.sent.length - sentBeforeTopUp, 1, 'and sent one transaction, no approve');
      assert.equal(balanceBeforeTopUp - (await balanceOf(dev.address)), BigInt(UNIT), "the buyer's dUSD fell by the top-up");
      assert.equal((await buyer.get(`/v1/datasets/${id}`)).chain.funded, 4 * UNIT);

      // Upload: a dropped file with a repeated item is refused whole, in words; nothing stored.
      const jsonl = (/** @type {readonly (readonly [string, string])[]} */ rows) =>
        rows.map(([itemId, text]) => JSON.stringify({ id: itemId, data: { text } })).join('\n') + '\n';
      const drop = page.locator('.buyer-drop');
      const bad = await page.evaluateHandle((text) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([text], 'twice.jsonl', { type: 'application/x-ndjson' }));
        return transfer;
      }, jsonl([ITEMS[0], ITEMS[0]]));
      await drop.dispatchEvent('drop', { dataTransfer: bad });
      const refusal = page.getByRole('alert').filter({ hasText: /pet-01/ });
      await refusal.waitFor();
      await refusal.getByText('Nothing was uploaded. Correct the file, then pick it again.').waitFor();
      await checkPage(page, 'buyer-upload-refused');
      assert.equal((await buyer.get(`/v1/datasets/${id}`)).item_count, 0, 'a refused upload stores nothing');

      mkdirSync(ARTIFACTS, { recursive: true });
      const file = path.join(ARTIFACTS, 'buyer-items.jsonl');
      writeFileSync(file, jsonl(ITEMS));
      await page.getByLabel(/Items file/).setInputFiles(file);
      await page.getByRole('status').filter({ hasText: `Uploaded ${ITEMS.length} items from buyer-items.jsonl.` }).waitFor();
      assert.equal((await buyer.get(`/v1/datasets/${id}`)).item_count, ITEMS.length);

      // A CSV file (quoted commas and quotes; a data cell holding JSON) and a JSON array.
      /** @type {Map<string, unknown>} every uploaded item's data, by its id */
      const uploaded = new Map(ITEMS.map(([itemId, text]) => [itemId, { text }]));
      const csv = path.join(ARTIFACTS, 'buyer-items.csv');
      writeFileSync(
        csv,
        'id,data\r\n' +
          'pet-05,"The puppy howls, loudly, when the ""doorbell"" rings."\r\n' +
          'pet-06,"{""text"": ""Two sparrows bathe in the puddle by the gate.""}"\r\n',
      );
      uploaded.set('pet-05', 'The puppy howls, loudly, when the "doorbell" rings.');
      uploaded.set('pet-06', { text: 'Two sparrows bathe in the puddle by the gate.' });
      await page.getByLabel(/Items file/).setInputFiles(csv);
      await page.getByRole('status').filter({ hasText: 'Uploaded 2 items from buyer-items.csv.' }).waitFor();
      const json = path.join(ARTIFACTS, 'buyer-items.json');
      writeFileSync(json, JSON.stringify([{ id: 'pet-07', data: { text: 'A parrot repeats the doorbell.' } }]));
      uploaded.set('pet-07', { text: 'A parrot repeats the doorbell.' });
      await page.getByLabel(/Items file/).setInputFiles(json);
      await page.getByRole('status').filter({ hasText: 'Uploaded 1 item from buyer-items.json.' }).waitFor();
      const delivered = await buyer.get(`/v1/datasets/${id}`);
      assert.equal(delivered.item_count, uploaded.size);
      // What paying every label takes: 7 items, 1 label each, 0.25 dUSD, no fee on this chain.
      await page.getByText(/uploaded so far \(7 labels at most\) takes 1\.75 dUSD, the 0% fee included; the escrow holds enough/).waitFor();

      // A reviewer appointed by address can read what only the buyer and reviewers may.
      const reviewerDev = devAccount(PARTS.reviewer);
      const reviewer = await new ApiUser(product.url, reviewerDev).signIn();
      await assert.rejects(reviewer.get(`/v1/datasets/${id}/agreement`), ApiError, 'not a reviewer yet');
      await page.getByLabel("Reviewer's address").fill(reviewerDev.address);
      await page.getByRole('button', { name: 'Appoint' }).click();
      await page.getByRole('status').filter({ hasText: `Appointed in this visit: ${reviewerDev.address}` }).waitFor();
      await reviewer.get(`/v1/datasets/${id}/agreement`);

      // An annotator is served one of the uploaded items and labels it; the progress shows it.
      const annotator = await new ApiUser(product.url, devAccount(PARTS.annotator)).signIn('annotator');
      const served = await annotator.get(`/v1/datasets/${id}/next-item`);
      assert.ok(uploaded.has(served.external_id), `served ${served.external_id}, one of the uploaded items`);
      assert.deepEqual(served.data, uploaded.get(served.external_id));
      await annotator.post('/v1/labels', { item_id: served.item_id, value: 'cat' });
      await page.reload();
      await fact('Labels awaiting review').filter({ hasText: /^1$/ }).waitFor();
      assert.equal(await fact('Items').textContent(), String(uploaded.size));
      assert.equal(await fact('Labels verified').textContent(), '0');
      await fact(ESCROW).filter({ hasText: /^4 dUSD$/ }).waitFor();
      await checkPage(page, 'buyer-dataset');

      // The list: the dataset, open, with its escrow left.
      await navigation.getByRole('link', { name: 'My datasets' }).click();
      const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: DATASET }) });
      await row.waitFor();
      const cells = await row.getByRole('cell').allTextContents();
      assert.deepEqual(cells, [DATASET, 'open', String(uploaded.size), '4 dUSD']);
      await checkPage(page, 'buyer-datasets');
    } catch (error) {
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'buyer-failure.png'), fullPage: true }).catch(() => undefined);
      throw error;
    } finally {
      await context.close();
    }
  });

  test('creates a private spans dataset verified by consensus, and the service stores the terms the form showed', async () => {
    const dev = devAccount(SPANS_BUYER);
    const buyer = await new ApiUser(product.url, dev).signIn('buyer');
    const annotator = devAccount(PARTS.annotator).address;
    const wallet = new TestWallet({ dev, rpcUrl: product.rpcUrl, chainId: product.chainId });
    const { context, page } = await openApp(wallet, 'buyer-spans');
    try {
      const banner = page.getByRole('banner');
      await banner.getByRole('button', { name: 'Connect wallet' }).click();
      await page.getByRole('button', { name: 'Connect Test Wallet' }).click();
      await banner.getByRole('button', { name: 'Sign in' }).click();
      await banner.getByRole('button', { name: 'Sign out' }).waitFor();
      await page.getByRole('navigation').getByRole('link', { name: 'My datasets' }).click();
      await page.getByRole('link', { name: 'Create a dataset' }).click();
      await page.getByLabel('Name').fill('Names in the news');
      await page.getByRole('radio', { name: 'Spans of a text' }).check();
      assert.equal(await page.getByLabel('Classes', { exact: true }).count(), 0, 'spans take no classes');
      await page.getByLabel(/Price per verified label/).fill('0.5');
      await page.getByLabel(/Reward per verified label/).fill('0');
      await page.getByRole('radio', { name: 'Annotators agree (consensus)' }).check();
      await page.getByLabel('Annotators per item').fill('3');
      await page.getByLabel('At most, when they disagree').fill('5');
      await page.getByLabel('How agreement is found').selectOption('dawid_skene');
      await page.getByLabel(/Similarity at which two labels agree/).fill('0.6');
      await page.getByLabel('Days before an unreviewed label is accepted and paid').fill('2');
      await page.getByLabel('Days an annotator may dispute a rejection').fill('3');
      await page.getByRole('checkbox', { name: 'Only the addresses I list' }).check();
      await page.getByLabel('Allowed annotators').fill(annotator);
      await checkPage(page, 'buyer-new-spans');
      await page.getByRole('button', { name: 'Create the dataset' }).click();
      await page.waitForURL(/\/buyer\/datasets\/\d+$/);
      await page.getByRole('heading', { level: 1, name: 'Names in the news' }).waitFor();
      const id = Number(new URL(page.url()).pathname.split('/').pop());
      const stored = await buyer.get(`/v1/datasets/${id}`);
      assert.equal(stored.label_type, 'spans');
      assert.equal(stored.price_per_label, UNIT / 2);
      assert.equal(stored.reward_per_label, 0);
      assert.equal(stored.private, true);
      const v = stored.verification;
      assert.deepEqual(
        [v.method, v.consensus_k, v.consensus_max_k, v.consensus_aggregator, v.agreement_threshold],
        ['consensus', 3, 5, 'dawid_skene', 0.6],
      );
      assert.equal(v.review_window_seconds, 2 * 86_400);
      assert.equal(v.dispute_window_seconds, 3 * 86_400);
      const workforce = await buyer.get(`/v1/datasets/${id}/workforce`);
      assert.ok(JSON.stringify(workforce).toLowerCase().includes(annotator.toLowerCase()), `the workforce holds ${annotator}`);
      await page.getByText('consensus of 3 annotators (up to 5)').waitFor();

      // Before funding, edited instructions rewrite the terms: the terms hash shown follows.
      await page.getByLabel('Instructions (Markdown)').fill('Mark each person named in the text.');
      await page.getByRole('button', { name: 'Save the instructions' }).click();
      await page.getByRole('status').filter({ hasText: 'the terms hash above) changed with it' }).waitFor();
      const resealed = await buyer.get(`/v1/datasets/${id}`);
      assert.notEqual(resealed.chain.salt, stored.chain.salt, 'the salt follows the instructions');
      await page.getByText(resealed.chain.salt).waitFor();
      const instructions = await buyer.get(`/v1/datasets/${id}/instructions`);
      assert.deepEqual([instructions.version, instructions.instructions], [1, 'Mark each person named in the text.']);

      // The allowlist: one more annotator allowed, the first one removed.
      const allowed = page.getByRole('list', { name: 'Allowed annotators' });
      await allowed.getByText(annotator).waitFor();
      const another = devAccount(PARTS.secondAnnotator).address;
      await page.getByLabel("Annotator's address").fill('0x1234');
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.getByText('Type the annotator\'s address: 0x and 40 hexadecimal digits.').waitFor();
      await page.getByLabel("Annotator's address").fill(another);
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.getByRole('status').filter({ hasText: `Added ${another}.` }).waitFor();
      await allowed.getByText(another).waitFor();
      await page.getByRole('button', { name: `Remove ${annotator}` }).click();
      await page.getByRole('status').filter({ hasText: `Removed ${annotator}` }).waitFor();
      await allowed.getByText(annotator).waitFor({ state: 'detached' });
      assert.deepEqual((await buyer.get(`/v1/datasets/${id}/workforce`)).members, [another]);
      await checkPage(page, 'buyer-allowlist');

      // Two texts uploaded: paying every label takes 2 items x 5 annotators x 0.5 dUSD.
      mkdirSync(ARTIFACTS, { recursive: true });
      const file = path.join(ARTIFACTS, 'buyer-spans.jsonl');
      writeFileSync(file, '{"id": "n-1", "data": "Ada Lovelace met Babbage."}\n{"id": "n-2", "data": "Grace Hopper found a moth."}\n');
      await page.getByLabel(/Items file/).setInputFiles(file);
      await page.getByRole('status').filter({ hasText: 'Uploaded 2 items from buyer-spans.jsonl.' }).waitFor();
      await page.getByText(/\(10 labels at most\) takes 5 dUSD, the 0% fee included; the escrow lacks 5 dUSD/).waitFor();
      await page.getByRole('button', { name: 'Fund what is missing' }).click();
      assert.equal(await page.getByLabel('Amount (dUSD)').inputValue(), '5');
      await checkPage(page, 'buyer-dataset-spans');
    } catch (error) {
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'buyer-spans-failure.png'), fullPage: true }).catch(() => undefined);
      throw error;
    } finally {
      await context.close();
    }
  });

  test('watches the work on a funded dataset (progress, agreement charts), downloads the labels, edits the instructions, then closes it and takes the refund', async () => {
    const dev = devAccount(PARTS.buyer);
    const truth = new Map([['pet-01', 'cat'], ['pet-02', 'dog'], ['pet-03', 'bird'], ['pet-04', 'cat'], ['pet-05', 'dog'], ['pet-06', 'bird']]);
    const { buyer, dataset } = await seedClassesDataset(product, dev, {
      name: 'Pets, two annotators each',
      classes: CLASSES,
      items: PET_SENTENCES,
      instructions: 'Pick the animal the sentence is about.',
      verification: { overlap: 2 },
    });
    const route = `/v1/datasets/${dataset.id}`;
    const reviewerDev = devAccount(PARTS.reviewer);
    await buyer.post(`${route}/reviewers`, { address: reviewerDev.address });
    const reviewer = await new ApiUser(product.url, reviewerDev).signIn();
    const first = await new ApiUser(product.url, devAccount(PARTS.annotator)).signIn('annotator');
    const second = await new ApiUser(product.url, devAccount(PARTS.secondAnnotator)).signIn('annotator');
    /** Four items each, one after the other: the second annotator gets the first one's items. */
    const labelFour = async (/** @type {ApiUser} */ who, /** @type {(id: string) => string} */ answer) => {
      /** @type {Map<string, any>} */
      const made = new Map();
      for (let n = 0; n < 4; n++) {
        const item = await who.get(`${route}/next-item`);
        made.set(item.external_id, await who.post('/v1/labels', { item_id: item.item_id, value: answer(item.external_id) }));
      }
      return made;
    };
    const right = await labelFour(first, (id) => truth.get(id) ?? '?');
    const mixed = await labelFour(second, (id) => (id === 'pet-03' ? 'cat' : truth.get(id) ?? '?'));
    assert.deepEqual([...mixed.keys()], [...right.keys()], 'both annotators labelled the same four items');
    const [a, b, c, d] = [...mixed.keys()];
    for (const made of right.values()) await reviewer.post(`/v1/labels/${made.id}/review`, { verdict: 'accept' });
    for (const id of [a, b]) await reviewer.post(`/v1/labels/${mixed.get(id).id}/review`, { verdict: 'accept' });
    assert.deepEqual([a, b, c, d], ['pet-01', 'pet-02', 'pet-03', 'pet-04'], 'items are served in the order they were uploaded');
    // The robin called a cat is rejected; pet-04's second label stays pending.
    await reviewer.post(`/v1/labels/${mixed.get(c).id}/review`, { verdict: 'reject', reason: 'a robin is a bird' });
    // The operator settles: the six verified labels are paid.
    const operator = await new ApiUser(product.url, devAccount(PARTS.operator)).signIn();
    const settled = await operator.post('/v1/epochs');
    assert.ok(settled.epoch, `an epoch was settled: ${settled.message}`);
    const counts = await buyer.get(`${route}/progress`);
    assert.deepEqual(
      [counts.items, counts.items_labelled, counts.labels, counts.pending, counts.verified, counts.rejected, counts.paid, counts.epochs],
      [6, 4, 8, 1, 6, 1, 6, 1],
    );
    const ledger = { address: product.ledger, abi: abiOf('LabelLedger.sol', 'LabelLedger') };
    const chain = walletClientOf(product, dev);
    const onChain = async () =>
      /** @type {{ available: bigint, status: number }} */ (
        await chain.readContract({ ...ledger, functionName: 'dataset', args: [BigInt(dataset.chain.dataset_id)] })
      );
    const escrow = (await onChain()).available;
    assert.equal(escrow, BigInt(6 * UNIT - 6 * (UNIT / 4)), 'six labels at 0.25 dUSD came out of 6 dUSD');
    const shown = `${formatUnits(escrow, 6)} dUSD`;

    const wallet = new TestWallet({ dev, rpcUrl: product.rpcUrl, chainId: product.chainId });
    const { context, page } = await openApp(wallet, 'buyer-work');
    await story(context, page, 'buyer-work', async () => {
      const banner = page.getByRole('banner');
      await banner.getByRole('button', { name: 'Connect wallet' }).click();
      await page.getByRole('button', { name: 'Connect Test Wallet' }).click();
      await banner.getByRole('button', { name: 'Sign in' }).click();
      await banner.getByRole('button', { name: 'Sign out' }).waitFor();
      await page.getByRole('navigation').getByRole('link', { name: 'My datasets' }).click();
      await page.getByRole('link', { name: 'Pets, two annotators each' }).click();
      await page.getByRole('heading', { level: 1, name: 'Pets, two annotators each' }).waitFor();
      const fact = (/** @type {string} */ name) => factOf(page, name);

      // Progress: the server's counts, and the escrow as the chain holds it.
      await fact('Labels paid in an epoch').filter({ hasText: /^6$/ }).waitFor();
      const progress = {
        Items: '6',
        'Items labelled': '4',
        'Labels awaiting review': '1',
        'Labels verified': '6',
        'Labels rejected': '1',
        'Verified, not paid yet': '0',
        'Epochs that paid': `1 (latest: epoch ${counts.latest_epoch})`,
      };
      for (const [name, value] of Object.entries(progress)) assert.equal(await fact(name).textContent(), value, name);
      await fact(ESCROW).filter({ hasText: new RegExp(`^${shown.replace('.', '\\.')}$`) }).waitFor();
      await page.getByRole('list', { name: 'Appointed reviewers' }).getByText(reviewerDev.address).waitFor();
      await checkPage(page, 'buyer-progress');

      // The agreement report: one bar per annotator, the numbers in a table for screen readers,
      // and the confusion matrix as a table, each as the API computes them.
      const report = await buyer.get(`${route}/agreement`);
      const chart = page.getByRole('img', { name: /Agreement of each annotator with the aggregate/ });
      await chart.waitFor();
      assert.equal(await chart.locator('rect.chart-bar').count(), report.annotators.length);
      assert.equal(report.annotators.length, 2);
      const perAnnotator = page.getByRole('table', { name: 'Per-annotator agreement, as a table' });
      for (const row of report.annotators) {
        const cells = await perAnnotator.getByRole('row').filter({ hasText: row.annotator }).getByRole('cell').allTextContents();
        assert.equal(cells[0], String(row.labels));
        assert.equal(cells[1], `${(row.agreement_with_aggregate * 100).toFixed(1)}%`);
      }
      const widths = await chart.locator('rect.chart-bar').evaluateAll((bars) => bars.map((bar) => Number(bar.getAttribute('width'))));
      // A bar's length is its share of the axis from the 0% grid line to the 100% one.
      const grid = await chart.locator('line.chart-grid').evaluateAll((lines) => lines.map((line) => Number(line.getAttribute('x1'))));
      const axis = Math.max(...grid) - Math.min(...grid);
      assert.deepEqual(widths, report.annotators.map((/** @type {any} */ row) => row.agreement_with_aggregate * axis));
      const confusion = page.getByRole('table', { name: /^Confusion:/ });
      for (const [t, name] of report.classes.entries()) {
        const cells = await confusion.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) }).getByRole('cell').allTextContents();
        assert.deepEqual(cells, report.confusion[t].map(String), `confusion row ${name}`);
      }
      await checkPage(page, 'buyer-agreement');

      // The delivered labels, every page fetched, saved as JSONL and as CSV.
      const delivered = await buyer.get(`${route}/labels`);
      assert.equal(delivered.length, 6);
      const [jsonl] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Download the labels (JSONL)' }).click(),
      ]);
      assert.equal(jsonl.suggestedFilename(), `dataset-${dataset.id}-labels.jsonl`);
      const lines = readFileSync(await jsonl.path(), 'utf8').split('\n');
      assert.equal(lines.pop(), '', 'the file ends with a line break');
      assert.deepEqual(lines.map((line) => JSON.parse(line)), delivered);
      await page.getByRole('status').filter({ hasText: `Saved 6 verified labels as dataset-${dataset.id}-labels.jsonl.` }).waitFor();
      const [csv] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Download the labels (CSV)' }).click(),
      ]);
      const rows = readFileSync(await csv.path(), 'utf8').split('\r\n');
      assert.equal(rows.pop(), '');
      assert.equal(rows[0].split(',').slice(0, 2).join(','), 'external_id,label');
      assert.deepEqual(
        rows.slice(1).map((row) => row.split(',').slice(0, 2)),
        delivered.map((/** @type {any} */ l) => [l.external_id, l.corrected_value ?? l.value]),
      );
      for (const row of rows.slice(1)) assert.equal(row.split(',')[1], truth.get(row.split(',')[0]), 'only right answers were verified');

      // The instructions, edited after funding: a new version, which annotators are given.
      const edited = '# Which animal?\n\nPick the animal the sentence is about. A robin is a bird.';
      await page.getByLabel('Instructions (Markdown)').fill(edited);
      await page.getByRole('button', { name: 'Save the instructions' }).click();
      await page.getByRole('status').filter({ hasText: 'Saved as version 2' }).waitFor();
      const now = await first.get(`${route}/instructions`);
      assert.deepEqual([now.version, now.instructions, now.committed], [2, edited, false]);
      assert.equal((await first.get(`${route}/instructions?version=1`)).instructions, 'Pick the animal the sentence is about.');
      await checkPage(page, 'buyer-instructions-edited');

      // Close: requestClose from the wallet; after the grace period (the chain's clock moved on),
      // finalizeClose; the refund is what the escrow held, and it is back in the buyer's wallet.
      await page.getByRole('checkbox', { name: /Annotators get no new items/ }).check();
      await page.getByRole('button', { name: 'Request the close' }).click();
      const closeTxs = page.getByRole('list', { name: 'Close transactions' });
      await closeTxs.getByRole('listitem').filter({ hasText: /^requestClose: confirmed 0x[0-9a-f]{64}$/ }).waitFor({ timeout: 30_000 });
      await page.getByRole('status').filter({ hasText: /Status: closing/ }).waitFor({ timeout: 60_000 });
      await page.getByRole('status').filter({ hasText: /^Closing: finalizeClose can be sent from .+, when the ledger's grace period ends\.$/ }).waitFor();
      assert.equal((await onChain()).status, 2, 'the ledger holds it as closing');
      await checkPage(page, 'buyer-closing');

      await rpc(product.rpcUrl, 'evm_increaseTime', [7 * 24 * 3600 + 1]);
      await rpc(product.rpcUrl, 'evm_mine', []);
      const dusd = { address: product.paymentToken, abi: erc20Abi };
      const before = await chain.readContract({ ...dusd, functionName: 'balanceOf', args: [dev.address] });
      const held = (await onChain()).available;
      await page.getByRole('button', { name: 'Finalize the close and take the refund' }).click({ timeout: 30_000 });
      await closeTxs.getByRole('listitem').filter({ hasText: /^finalizeClose: confirmed 0x[0-9a-f]{64}$/ }).waitFor({ timeout: 30_000 });
      await page.getByRole('status').filter({ hasText: `Refunded to your wallet: ${shown}.` }).waitFor();
      const after = await chain.readContract({ ...dusd, functionName: 'balanceOf', args: [dev.address] });
      assert.equal(held, escrow, 'nothing was paid out meanwhile');
      assert.equal(after - before, held, "the buyer's dUSD rose by the refund");
      assert.deepEqual([(await onChain()).status, (await onChain()).available], [3, 0n]);
      await page.getByRole('status').filter({ hasText: /Status: closed/ }).waitFor({ timeout: 60_000 });
      await fact(ESCROW).filter({ hasText: /^0 dUSD$/ }).waitFor();
      await page.getByRole('status').filter({ hasText: `Closed: ${shown} was refunded.` }).waitFor();
      await page.getByText('This dataset is closed: the ledger takes no more funds for it.').waitFor();
      await fact('Refunded').filter({ hasText: new RegExp(`^${shown.replace('.', '\\.')}$`) }).waitFor();
      assert.equal((await buyer.get(route)).chain.refunded, Number(held));
      await checkPage(page, 'buyer-closed');

      // The annotators' page of the dataset reads the same escrow from the chain.
      await page.getByRole('link', { name: 'See the dataset as annotators do' }).click();
      await page.waitForURL(new RegExp(`/datasets/${dataset.id}$`));
      await fact(ESCROW).filter({ hasText: /^0 dUSD$/ }).waitFor();
      await checkPage(page, 'buyer-closed-as-annotators-see-it');
    });
  });
});
