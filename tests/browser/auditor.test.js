// @ts-check
/**
 * User stories of the operator and the auditor, in Debian's headless Chromium against a real
 * `up` (its settlement job off, so the epoch is the one the operator settles from the page): the
 * operator settles with "Settle now", the epoch shows on /epochs with the roots the chain holds,
 * and an auditor checks an annotator's proof bundle in the browser against the chain's root,
 * then the same bundle with one amount changed, which must fail. Every page visited is checked
 * with axe-core and photographed at desktop and phone sizes (artifacts/).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createPublicClient, http } from 'viem';
import { devAccount, PARTS } from './support/accounts.js';
import { checkPage, launchBrowser, openApp as openAppWith, story } from './support/pages.js';
import { ARTIFACTS } from './support/paths.js';
import { startProduct } from './support/product.js';
import { abiOf, ApiUser, PET_SENTENCES, seedClassesDataset, UNIT } from './support/seed.js';
import { TestWallet } from './support/wallet.js';

/** Anvil's dev account 8: a part no other story here plays. */
const AUDITOR = 8;
const LABELLED = 3;

describe('an operator settles and an auditor checks a proof against the chain', { timeout: 600_000 }, () => {
  /** @type {import('./support/product.js').Product} */
  let product;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {ApiUser} */
  let annotator;
  /** @type {any} */
  let dataset;
  /** @type {any} */
  let epoch;

  before(async () => {
    product = await startProduct({ name: 'auditor', upArgs: ['--settle-every', '0'] });
    const seeded = await seedClassesDataset(product, devAccount(PARTS.buyer), {
      name: 'Pets for the audit',
      classes: ['cat', 'dog', 'bird'],
      items: PET_SENTENCES,
      instructions: 'Pick the animal the sentence is about.',
    });
    dataset = seeded.dataset;
    annotator = await new ApiUser(product.url, devAccount(PARTS.annotator)).signIn('annotator');
    for (let n = 0; n < LABELLED; n += 1) {
      const item = await annotator.get(`/v1/datasets/${dataset.id}/next-item`);
      await annotator.post('/v1/labels', { item_id: item.item_id, value: 'cat' });
    }
    const reviewerDev = devAccount(PARTS.reviewer);
    await seeded.buyer.post(`/v1/datasets/${dataset.id}/reviewers`, { address: reviewerDev.address });
    const reviewer = await new ApiUser(product.url, reviewerDev).signIn();
    const queue = await reviewer.get('/v1/reviews/queue');
    assert.equal(queue.length, LABELLED, 'the reviewer sees every label in the queue');
    for (const label of queue) await reviewer.post(`/v1/labels/${label.id}/review`, { verdict: 'accept' });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await product?.stop();
  });

  /** The ledger's views, read from the chain itself (not the API). */
  function ledgerOnChain() {
    const client = createPublicClient({ transport: http(product.rpcUrl) });
    const ledger = { address: product.ledger, abi: abiOf('LabelLedger.sol', 'LabelLedger') };
    return {
      payoutRoot: async () => /** @type {string} */ (await client.readContract({ ...ledger, functionName: 'payoutRoot' })),
      acceptedEpoch: async () => Number(await client.readContract({ ...ledger, functionName: 'acceptedEpoch' })),
    };
  }

  /**
   * @param {TestWallet} wallet
   * @param {string} name
   */
  async function openApp(wallet, name) {
    return openAppWith(browser, product.url, wallet, name);
  }


  /** Connect wallet, the Test Wallet, then Sign in. */
  async function connectAndSignIn(/** @type {import('playwright-core').Page} */ page) {
    const banner = page.getByRole('banner');
    await banner.getByRole('button', { name: 'Connect wallet' }).click();
    await page.getByRole('button', { name: 'Connect Test Wallet' }).click();
    await banner.getByRole('button', { name: 'Sign in' }).click();
    await banner.getByRole('button', { name: 'Sign out' }).waitFor();
  }

  test("the operator (Anvil's account 0) settles with Settle now, and the epoch shows on /epochs with the chain's roots", async () => {
    const dev = devAccount(PARTS.operator);
    const wallet = new TestWallet({ dev, rpcUrl: product.rpcUrl, chainId: product.chainId });
    const { context, page } = await openApp(wallet, 'operator');
    await story(context, page, 'operator', async () => {
      await connectAndSignIn(page);
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Operator' }).click();
      await page.getByRole('heading', { level: 1, name: 'Operator' }).waitFor();
      const mirror = page.getByRole('region', { name: 'Chain mirror' });
      await mirror.getByText('Mirrored up to block').waitFor();
      await mirror.getByText(/values compared with the chain|No reconciliation yet/).waitFor();
      const current = page.getByRole('region', { name: 'Current epochs' });
      // Current epochs are an auditor's read: the operator takes that role from the page.
      await current.getByRole('button', { name: 'Take the auditor role' }).click();
      await current.getByText('No epoch is accepted yet.').waitFor();
      await checkPage(page, 'operator-before-settling');

      const chain = ledgerOnChain();
      assert.equal(await chain.acceptedEpoch(), 0, 'no epoch is accepted before settling');
      await page.getByRole('button', { name: 'Settle now' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: 'Done: epoch 1 is accepted on chain: claimable.' })
        .waitFor({ timeout: 60_000 });
      await current.getByRole('heading', { name: 'Epoch 1' }).waitFor();
      await current.getByText('accepted: claimable').waitFor();
      await checkPage(page, 'operator-settled');

      const epochs = await new ApiUser(product.url, devAccount(AUDITOR)).signIn('auditor');
      epoch = await epochs.get('/v1/epochs/1');
      assert.equal(epoch.label_count, LABELLED, 'the epoch pays every accepted label');
      assert.equal(await chain.acceptedEpoch(), 1, 'the chain accepted epoch 1');
      assert.equal((await chain.payoutRoot()).toLowerCase(), epoch.payout_root.toLowerCase(), 'the chain holds the epoch root');
      // Only labels the reviewer accepted are paid, each at the dataset's price.
      const debit = epoch.debits[0];
      assert.equal(debit.labels, LABELLED);
      assert.equal(debit.debit, (LABELLED * UNIT) / 4);

      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Epochs' }).click();
      await page.getByRole('heading', { level: 1, name: 'Epochs' }).waitFor();
      const card = page.getByRole('article', { name: 'Epoch 1', exact: true });
      await card.getByText('accepted: claimable').waitFor();
      await card.getByText(epoch.payout_root).waitFor();
      await card.getByText(epoch.label_root).waitFor();
      await card.getByText(epoch.content_hash).waitFor();
      const manifestHref = await card.getByRole('link', { name: 'Manifest of epoch 1' }).getAttribute('href');
      const manifest = await fetch(`${product.url}${manifestHref}`);
      assert.equal(manifest.status, 200, 'the manifest link answers');
      assert.equal((await manifest.json()).payoutRoot, epoch.payout_root);
      for (const tree of ['Payout tree of epoch 1', 'Label tree of epoch 1']) {
        const href = await card.getByRole('link', { name: tree }).getAttribute('href');
        const dump = await (await fetch(`${product.url}${href}`)).json();
        assert.equal(dump.format, 'standard-v1', `${tree} is an OpenZeppelin dump`);
      }
      await page.getByLabel('The audit command').waitFor();
      await checkPage(page, 'auditor-epochs');

      await card.getByRole('link', { name: 'Epoch 1', exact: true }).click();
      await page.getByRole('heading', { level: 1, name: 'Epoch 1' }).waitFor();
      const debits = page.getByRole('table', { name: /What epoch 1 debited/ });
      await debits.getByRole('cell', { name: '0.75 dUSD' }).waitFor();
      await checkPage(page, 'auditor-epoch');
    });
  });

  test('an auditor verifies an annotator\'s proof bundle against the chain\'s root, and the same bundle with one amount changed fails', async () => {
    assert.ok(epoch, 'runs after the operator settled');
    const dev = devAccount(AUDITOR);
    const wallet = new TestWallet({ dev, rpcUrl: product.rpcUrl, chainId: product.chainId });
    const { context, page } = await openApp(wallet, 'auditor');
    await story(context, page, 'auditor', async () => {
      await page.goto(`${product.url}/epochs/verify`);
      await page.getByRole('heading', { level: 1, name: 'Verify a proof' }).waitFor();
      await page.getByLabel("Annotator's address").fill(annotator.address);
      await page.getByRole('button', { name: 'Fetch their proof bundle' }).click();
      const text = page.getByLabel('Proof bundle or single leaf (JSON)');
      await page.waitForFunction(() => {
        const area = /** @type {HTMLTextAreaElement | null} */ (document.getElementById('bundle-text'));
        return area !== null && area.value.includes('entitlements');
      });
      const bundle = JSON.parse(await text.inputValue());
      assert.equal(bundle.account.toLowerCase(), annotator.address.toLowerCase());
      const leaves = bundle.entitlements.length + bundle.labels.length;
      assert.equal(bundle.labels.length, LABELLED, 'the bundle proves every label paid');

      await page.getByRole('button', { name: 'Verify against the chain' }).click();
      const verdict = page.getByRole('region', { name: /valid against the root on chain|failed/ });
      await verdict.getByRole('heading', { name: `All ${leaves} leaves are valid against the root on chain` }).waitFor();
      assert.equal(await verdict.getByText('✓ valid against the root on chain').count(), leaves);
      // The root it was checked against is the one the chain holds now.
      const onChain = (await ledgerOnChain().payoutRoot()).toLowerCase();
      await verdict.getByText(onChain).waitFor();
      await verdict.getByText('0.75 dUSD').waitFor();
      await checkPage(page, 'auditor-verify-valid');

      // One amount changed: the annotator claims a cent more than the epoch paid.
      const tampered = structuredClone(bundle);
      tampered.entitlements[0].cumulative_payment += UNIT / 100;
      const file = path.join(ARTIFACTS, 'auditor-tampered-bundle.json');
      mkdirSync(ARTIFACTS, { recursive: true });
      writeFileSync(file, JSON.stringify(tampered, null, 2));
      await page.getByLabel('Or load a proof bundle file').setInputFiles(file);
      await page.waitForFunction(() => {
        const area = /** @type {HTMLTextAreaElement | null} */ (document.getElementById('bundle-text'));
        return area !== null && area.value.includes('"cumulative_payment": 760000');
      });
      await page.getByRole('button', { name: 'Verify against the chain' }).click();
      await page.getByRole('heading', { name: `1 of ${leaves} leaves failed` }).waitFor();
      const failed = page.getByRole('listitem').filter({ hasText: 'Payout entitlement 1' });
      await failed.getByText(/✗ invalid: Not in the payout tree whose root is on chain/).waitFor();
      await failed.getByText('0.76 dUSD').waitFor();
      assert.equal(await page.getByText('✓ valid against the root on chain').count(), leaves - 1);
      await checkPage(page, 'auditor-verify-tampered');

      // A single leaf pasted with its proof: one of the labels the epoch paid.
      const [paid] = bundle.labels;
      await text.fill(JSON.stringify({ epoch: bundle.epoch, tree: 'label', leaf: paid.leaf, proof: paid.proof }));
      await page.getByRole('button', { name: 'Verify against the chain' }).click();
      await page.getByRole('heading', { name: 'All 1 leaf is valid against the root on chain' }).waitFor();
      // The same leaf said to be in the payout tree is refused, in words.
      await text.fill(JSON.stringify({ epoch: bundle.epoch, tree: 'payout', leaf: paid.leaf, proof: paid.proof }));
      await page.getByRole('button', { name: 'Verify against the chain' }).click();
      await page.getByRole('heading', { name: '1 of 1 leaf failed' }).waitFor();
      await page.getByText(/✗ invalid: A payout leaf has 4 values/).waitFor();

      // An auditor is not the operator: Settle now is refused, in words.
      await connectAndSignIn(page);
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Operator' }).click();
      await page.getByRole('button', { name: 'Settle now' }).click();
      const refusal = page.getByRole('alert').filter({ hasText: 'The service refused' });
      await refusal.getByText('Only an operator may settle').waitFor();
      await checkPage(page, 'operator-refused');
      assert.equal(await ledgerOnChain().acceptedEpoch(), 1, 'no epoch was settled by the refused press');
    });
  });
});
