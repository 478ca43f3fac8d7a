// @ts-check
/**
 * A reviewer's story, driven as a person would (roles, names, keys) in Debian's headless
 * Chromium against a real `up`, with the Test Wallet: the review queue decided with the keys a,
 * c and r, each label beside its item as the annotator saw it (the text; a span highlighted in
 * it), then a dispute of the rejection upheld by a second reviewer who sees the disputed value
 * and its item. What the pages did is
 * checked afterwards through the real API. Every page visited is checked with axe-core and
 * photographed at desktop and phone sizes (artifacts/).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { devAccount, PARTS } from './support/accounts.js';
import { checkPage, launchBrowser, openApp as openAppWith, story } from './support/pages.js';
import { REPO_ROOT } from './support/paths.js';
import { startProduct } from './support/product.js';
import { ApiUser, fundUntilOpen, PET_SENTENCES, seedClassesDataset, UNIT } from './support/seed.js';
import { TestWallet } from './support/wallet.js';

const DATASET = 'Pets to review';
const CLASSES = ['cat', 'dog', 'bird'];
/** Anvil's dev account that plays the reviewer who decides the dispute (8 is used by nobody else). */
const SECOND_REVIEWER = 8;
/** What the annotator answers per item: right, nearly right (corrected), wrong (rejected). */
const ANSWERS = new Map([
  ['pet-01', 'cat'],
  ['pet-02', 'cat'],
  ['pet-03', 'dog'],
]);
const REJECTION = 'A robin is a bird, not a dog';
const COMMENT = 'I picked the wrong key; I meant bird, but the sentence is about the worm too';
const UPHELD = 'The instructions allow the second animal named';
/** Each item's text, as the buyer uploaded it and the annotator was served it. */
const TEXT_OF = new Map(PET_SENTENCES.slice(0, 3));

const noApp = existsSync(path.join(REPO_ROOT, 'web', 'package.json'))
  ? false
  : 'the web app (web/) is not in this checkout yet';

/** `0x1234…abcd`, as the banner shows an address, for any letter case. */
function shortAddress(/** @type {string} */ address) {
  return new RegExp(`${address.slice(0, 6)}…${address.slice(-4)}`, 'i');
}

/**
 * A funded dataset of one item, made through the API and the chain as a buyer would.
 * @param {import('./support/product.js').Product} product
 * @param {ApiUser} buyer signed in with the buyer role
 * @param {{ name: string, labelType: 'spans' | 'boxes', instructions: string, id: string, data: unknown }} spec
 */
async function seedOneItemDataset(product, buyer, spec) {
  const price = UNIT / 4;
  const created = await buyer.post('/v1/datasets', {
    name: spec.name,
    label_type: spec.labelType,
    payment_token: product.paymentToken,
    price_per_label: price,
    reward_per_label: UNIT,
    instructions: spec.instructions,
  });
  const route = `/v1/datasets/${created.id}`;
  await buyer.post(`${route}/items`, [{ id: spec.id, data: spec.data }]);
  const { chain: terms } = await buyer.get(route);
  const budget = BigInt(price * 2);
  await fundUntilOpen(product, buyer.dev, buyer, route, terms, budget);
  return created;
}

describe('a reviewer with nothing but a wallet', { skip: noApp, timeout: 600_000 }, () => {
  /** @type {import('./support/product.js').Product} */
  let product;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {ApiUser} */
  let buyer;
  /** @type {ApiUser} */
  let annotator;
  /** @type {any} */
  let dataset;
  /** The annotator's labels by item, in the order sent. @type {Map<string, number>} */
  const labelOf = new Map();

  before(async () => {
    product = await startProduct({ name: 'reviewer' });
    const home = await fetch(`${product.url}/`);
    if (!home.ok || !(home.headers.get('content-type') ?? '').startsWith('text/html')) {
      throw new Error(`GET / answered ${home.status}, not the web app: build it (cd web && npm run build)`);
    }
    ({ buyer, dataset } = await seedClassesDataset(product, devAccount(PARTS.buyer), {
      name: DATASET,
      classes: CLASSES,
      items: PET_SENTENCES.slice(0, 3),
      instructions: '# Which animal?\n\nPick the animal the sentence is about.',
    }));
    await buyer.post(`/v1/datasets/${dataset.id}/reviewers`, { address: devAccount(PARTS.reviewer).address });
    annotator = await new ApiUser(product.url, devAccount(PARTS.annotator)).signIn('annotator');
    for (;;) {
      let item;
      try {
        item = await annotator.get(`/v1/datasets/${dataset.id}/next-item`);
      } catch (error) {
        if (/** @type {any} */ (error).code === 'queue_empty') break;
        throw error;
      }
      const value = ANSWERS.get(item.external_id);
      assert.ok(value, `an item of the three: ${item.external_id}`);
      const label = await annotator.post('/v1/labels', { item_id: item.item_id, value });
      labelOf.set(item.external_id, label.id);
    }
    assert.equal(labelOf.size, 3, 'the annotator labelled the three items');
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await product?.stop();
  });

  /**
   * A fresh browser profile with `wallet` injected, signed in; page errors kept in artifacts/.
   * @param {TestWallet} wallet
   * @param {string} name
   */
  async function openSignedIn(wallet, name) {
    const { context, page } = await openAppWith(browser, product.url, wallet, name);
    const banner = page.getByRole('banner');
    await banner.getByRole('button', { name: 'Connect wallet' }).click();
    await page.getByRole('button', { name: 'Connect Test Wallet' }).click();
    await banner.getByText(shortAddress(wallet.address)).first().waitFor();
    await banner.getByRole('button', { name: 'Sign in' }).click();
    await banner.getByRole('button', { name: 'Sign out' }).waitFor();
    return { context, page };
  }


  /** The annotator's label `id` as the API shows it to its annotator. */
  async function labelById(/** @type {number} */ id) {
    const mine = await annotator.get('/v1/me/labels');
    const found = mine.find((/** @type {any} */ label) => label.id === id);
    assert.ok(found, `label ${id} is among the annotator's`);
    return found;
  }

  test('accepts one label with a, corrects one with c, rejects one with r and a reason; the API agrees', async () => {
    const dev = devAccount(PARTS.reviewer);
    const wallet = new TestWallet({ dev, rpcUrl: product.rpcUrl, chainId: product.chainId });
    const { context, page } = await openSignedIn(wallet, 'reviewer');
    await story(context, page, 'reviewer', async () => {
      await page.getByRole('navigation').getByRole('link', { name: 'Review' }).click();
      await page.waitForURL(/\/review$/);
      await page.getByRole('heading', { level: 1, name: 'Review' }).waitFor();
      const status = page.getByRole('status').filter({ hasText: /Reviewed \d+ labels?/ });
      await status.filter({ hasText: 'Reviewed 0 labels' }).waitFor();
      const decision = page.getByRole('group', { name: 'Decision' });
      for (const [name, key] of [['Accept', 'a'], ['Correct', 'c'], ['Reject', 'r']]) {
        const button = decision.getByRole('button', { name });
        assert.equal(await button.getAttribute('aria-keyshortcuts'), key, `${name}'s key`);
        assert.ok(((await button.textContent()) ?? '').includes(key), `${name} shows its key`);
      }
      const heading = (/** @type {string} */ externalId) =>
        page.getByRole('heading', { level: 2, name: `Item ${externalId} of ${DATASET}` });

      // Oldest first: the labels come in the order the annotator sent them.
      const order = [...labelOf.keys()];
      const decide = new Map([
        ['pet-01', 'accept'],
        ['pet-02', 'correct'],
        ['pet-03', 'reject'],
      ]);
      for (const [index, externalId] of order.entries()) {
        await heading(externalId).waitFor();
        const label = page.getByRole('region', { name: 'Label to review' });
        await label.getByText(/** @type {string} */ (ANSWERS.get(externalId)), { exact: true }).waitFor();
        // The item beside its label: the sentence the annotator read, as the workspace shows it.
        await label.getByText(/** @type {string} */ (TEXT_OF.get(externalId)), { exact: true }).waitFor();
        assert.equal(await label.getByText(/without its item/).count(), 0, 'no note that the item is missing');
        if (index === 0) await checkPage(page, 'reviewer-queue');
        const verdict = decide.get(externalId);
        if (verdict === 'accept') {
          await page.keyboard.press('a');
        } else if (verdict === 'correct') {
          await page.keyboard.press('c');
          const choices = page.getByRole('group', { name: 'Corrected class' });
          // The annotator said cat: the choices are the other classes, dog on key 1.
          const dog = choices.getByRole('button', { name: 'dog', exact: true });
          assert.equal(await dog.getAttribute('aria-keyshortcuts'), '1');
          await checkPage(page, 'reviewer-correct');
          await page.keyboard.press('1');
        } else {
          await page.keyboard.press('r');
          const reason = page.getByRole('textbox', { name: 'Why reject (required)' });
          await reason.waitFor();
          assert.ok(await reason.evaluate((element) => element === document.activeElement), 'r moves focus to the reason');
          // The reason is required: Enter with none sends nothing and says so.
          await page.keyboard.press('Enter');
          await page.getByRole('alert').filter({ hasText: 'A rejection must say why' }).waitFor();
          await checkPage(page, 'reviewer-reject');
          await page.keyboard.type(REJECTION);
          await page.keyboard.press('Enter');
        }
        await status.filter({ hasText: `Reviewed ${index + 1} ${index === 0 ? 'label' : 'labels'}` }).waitFor();
      }
      await page.getByText('Nothing to review now').waitFor();
      await checkPage(page, 'reviewer-queue-done');
    });

    // What the API says now, as the annotator reads their labels.
    const accepted = await labelById(/** @type {number} */ (labelOf.get('pet-01')));
    assert.equal(accepted.status, 'verified');
    assert.equal(accepted.method, 'review');
    assert.equal(accepted.corrected_value, null);
    assert.equal(accepted.reviewer.toLowerCase(), dev.address.toLowerCase());
    const corrected = await labelById(/** @type {number} */ (labelOf.get('pet-02')));
    assert.equal(corrected.status, 'verified');
    assert.equal(corrected.method, 'review');
    assert.equal(corrected.value, 'cat', 'the annotator’s value is what was paid');
    assert.equal(corrected.corrected_value, 'dog');
    const rejected = await labelById(/** @type {number} */ (labelOf.get('pet-03')));
    assert.equal(rejected.status, 'rejected');
    assert.equal(rejected.method, 'review');
    assert.equal(rejected.reason, REJECTION);
    assert.equal(rejected.reviewer.toLowerCase(), dev.address.toLowerCase());
  });

  test('a second reviewer, once appointed, upholds the dispute of the rejection; the label is verified by appeal', async () => {
    const labelId = /** @type {number} */ (labelOf.get('pet-03'));
    const dispute = await annotator.post(`/v1/labels/${labelId}/disputes`, { comment: COMMENT });
    assert.equal(dispute.status, 'open');

    const dev = devAccount(SECOND_REVIEWER);
    const wallet = new TestWallet({ dev, rpcUrl: product.rpcUrl, chainId: product.chainId });
    const { context, page } = await openSignedIn(wallet, 'second-reviewer');
    await story(context, page, 'second-reviewer', async () => {
      // Not appointed yet: the page says who appoints reviewers.
      await page.getByRole('navigation').getByRole('link', { name: 'Review' }).click();
      await page.getByText('You do not review any dataset yet.').waitFor();
      await page.getByText(/buyer appoints its reviewers/).waitFor();
      await checkPage(page, 'reviewer-not-appointed');

      await buyer.post(`/v1/datasets/${dataset.id}/reviewers`, { address: dev.address });
      await page.reload();
      await page.getByText('Nothing to review now').waitFor();
      await page.getByRole('link', { name: 'Disputes to decide' }).click();
      await page.waitForURL(/\/review\/disputes$/);
      await page.getByRole('heading', { level: 1, name: 'Disputes' }).waitFor();
      const card = page.getByRole('article', { name: new RegExp(`^Dispute ${dispute.id}: label ${labelId}`) });
      await card.waitFor();
      await card.getByRole('heading', { level: 2, name: `Dispute ${dispute.id}: label ${labelId} on item pet-03 of ${DATASET}` }).waitFor();
      // The disputed value and the item it was made on, the sentence the annotator read.
      await card.getByText('The disputed label', { exact: true }).waitFor();
      await card.getByText(/** @type {string} */ (ANSWERS.get('pet-03')), { exact: true }).waitFor();
      await card.getByText(/** @type {string} */ (TEXT_OF.get('pet-03')), { exact: true }).waitFor();
      assert.equal(await card.getByText(/not sent to reviewers/).count(), 0, 'no fallback note for the value');
      await card.getByText(REJECTION, { exact: true }).waitFor(); // the history names it too
      await card.getByText(COMMENT, { exact: true }).waitFor();
      await card.getByText(shortAddress(devAccount(PARTS.reviewer).address)).first().waitFor();
      const history = card.getByRole('list', { name: `History of label ${labelId}` });
      await history.getByRole('listitem').nth(2).waitFor(); // submitted, rejected, disputed
      await checkPage(page, 'reviewer-disputes');

      await card.getByRole('radio', { name: /^Uphold/ }).check();
      await card.getByRole('button', { name: 'Uphold the dispute' }).click();
      // No reason: the browser keeps the form; the reason is required.
      assert.equal(await card.getByRole('textbox', { name: /Reason for your decision/ }).evaluate(
        (element) => /** @type {HTMLTextAreaElement} */ (element).validity.valueMissing,
      ), true);
      await card.getByRole('textbox', { name: /Reason for your decision/ }).fill(UPHELD);
      await card.getByRole('button', { name: 'Uphold the dispute' }).click();
      await page.getByRole('status').filter({ hasText: `Decided 1 dispute; dispute ${dispute.id} upheld` }).waitFor();
      await card.waitFor({ state: 'detached' });
      await page.getByText('No dispute waits for you').waitFor();
      await checkPage(page, 'reviewer-disputes-done');
    });

    const label = await labelById(labelId);
    assert.equal(label.status, 'verified');
    assert.equal(label.method, 'appeal');
    const history = await annotator.get(`/v1/labels/${labelId}/history`);
    assert.equal(history.status, 'verified');
    const decided = history.events.at(-1);
    assert.equal(decided.actor.toLowerCase(), dev.address.toLowerCase());
    assert.ok(String(decided.detail).includes(UPHELD), `the decision's reason is recorded: ${decided.detail}`);
  });

  test('corrects a span with c by typing its offsets; the page says the span in words and the API keeps the correction', async () => {
    const text = 'The heron waits in the reeds.';
    const spans = await seedOneItemDataset(product, buyer, {
      name: 'Animals named in a sentence',
      labelType: 'spans',
      instructions: 'Select the animal named in the sentence.',
      id: 'span-01',
      data: { text },
    });
    await buyer.post(`/v1/datasets/${spans.id}/reviewers`, { address: devAccount(PARTS.reviewer).address });
    const item = await annotator.get(`/v1/datasets/${spans.id}/next-item`);
    const label = await annotator.post('/v1/labels', { item_id: item.item_id, value: '[4, 11]' });

    const dev = devAccount(PARTS.reviewer);
    const wallet = new TestWallet({ dev, rpcUrl: product.rpcUrl, chainId: product.chainId });
    const { context, page } = await openSignedIn(wallet, 'reviewer-spans');
    await story(context, page, 'reviewer-spans', async () => {
      await page.getByRole('navigation').getByRole('link', { name: 'Review' }).click();
      await page.getByRole('heading', { level: 2, name: 'Item span-01 of Animals named in a sentence' }).waitFor();
      await page.getByText('Characters 4 to 11 of the text').waitFor();
      // The text beside it, the span highlighted in it as the annotator selected it.
      const region = page.getByRole('region', { name: 'Label to review' });
      await region.getByText(text, { exact: true }).waitFor();
      const marked = region.locator('mark');
      assert.equal(await marked.count(), 1, 'one span highlighted');
      assert.equal(await marked.textContent(), Array.from(text).slice(4, 11).join(''));
      await checkPage(page, 'reviewer-span');
      await page.keyboard.press('c');
      const field = page.getByRole('textbox', { name: 'Corrected value' });
      await field.waitFor();
      assert.ok(await field.evaluate((element) => element === document.activeElement), 'c moves focus to the value');
      await checkPage(page, 'reviewer-correct-span');
      await field.fill('[4, 9]');
      await page.keyboard.press('Enter');
      await page.getByRole('status').filter({ hasText: 'Reviewed 1 label' }).waitFor();
      await page.getByText('Nothing to review now').waitFor();
    });

    const mine = await annotator.get('/v1/me/labels');
    const decided = mine.find((/** @type {any} */ candidate) => candidate.id === label.id);
    assert.equal(decided.status, 'verified');
    assert.equal(decided.method, 'review');
    assert.deepEqual(JSON.parse(decided.value), [4, 11]);
    assert.deepEqual(JSON.parse(decided.corrected_value), [4, 9]);
  });

  test('accepts a box with a, seeing it drawn over the picture the annotator drew it on', async () => {
    const boxes = await seedOneItemDataset(product, buyer, {
      name: 'Pets boxed',
      labelType: 'boxes',
      instructions: 'Draw a box around the animal.',
      id: 'box-01',
      data: { image: '/media/pets/3.png' },
    });
    await buyer.post(`/v1/datasets/${boxes.id}/reviewers`, { address: devAccount(PARTS.reviewer).address });
    const item = await annotator.get(`/v1/datasets/${boxes.id}/next-item`);
    const box = [10, 20, 60, 80];
    const label = await annotator.post('/v1/labels', { item_id: item.item_id, value: JSON.stringify(box) });

    const dev = devAccount(PARTS.reviewer);
    const wallet = new TestWallet({ dev, rpcUrl: product.rpcUrl, chainId: product.chainId });
    const { context, page } = await openSignedIn(wallet, 'reviewer-boxes');
    await story(context, page, 'reviewer-boxes', async () => {
      await page.getByRole('navigation').getByRole('link', { name: 'Review' }).click();
      await page.getByRole('heading', { level: 2, name: 'Item box-01 of Pets boxed' }).waitFor();
      await page.getByText("Box from (10, 20) to (60, 80), in the picture's pixels").waitFor();
      // The picture the annotator drew on, and the box drawn over it where the label says.
      const region = page.getByRole('region', { name: 'Label to review' });
      const picture = region.getByRole('img', { name: 'Item box-01' });
      await picture.waitFor();
      await page.waitForFunction(() => {
        const img = document.querySelector('.box-canvas img');
        return img instanceof HTMLImageElement && img.complete && img.naturalWidth > 0;
      });
      const drawn = region.locator('.box-drawn');
      await drawn.waitFor();
      const natural = await picture.evaluate((element) => {
        const img = /** @type {HTMLImageElement} */ (element);
        return { width: img.naturalWidth, height: img.naturalHeight };
      });
      const shown = /** @type {{ x: number, y: number, width: number, height: number }} */ (await picture.boundingBox());
      const over = /** @type {{ x: number, y: number, width: number, height: number }} */ (await drawn.boundingBox());
      const scale = shown.width / natural.width;
      assert.ok(Math.abs(over.x - (shown.x + box[0] * scale)) < 3, `the box's left edge: ${over.x}`);
      assert.ok(Math.abs(over.y - (shown.y + box[1] * (shown.height / natural.height))) < 3, `the box's top edge: ${over.y}`);
      assert.ok(Math.abs(over.width - (box[2] - box[0]) * scale) < 4, `the box's width: ${over.width}`);
      // Read-only: nothing to draw or send but the decision.
      assert.equal(await region.getByRole('button', { name: 'Submit the box' }).count(), 0);
      await checkPage(page, 'reviewer-box');
      await page.keyboard.press('a');
      await page.getByRole('status').filter({ hasText: 'Reviewed 1 label' }).waitFor();
      await page.getByText('Nothing to review now').waitFor();
    });

    const mine = await annotator.get('/v1/me/labels');
    const decided = mine.find((/** @type {any} */ candidate) => candidate.id === label.id);
    assert.equal(decided.status, 'verified');
    assert.equal(decided.method, 'review');
  });
});
