// @ts-check
/**
 * A buyer's own media, kept confidential, as people meet it in Chromium against a real `up`: the
 * buyer uploads a picture on the dataset's page (stored encrypted with the dataset's key); the
 * items refer to it as "media:pet.png"; the annotator holding an item is shown it through a
 * short-lived signed URL bound to their wallet; the same URL altered for another wallet, or
 * used once the lease is over, is refused; and the buyer's page lists who opened which file of
 * which item, when.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { devAccount, PARTS } from './support/accounts.js';
import { checkPage, launchBrowser, openApp, story } from './support/pages.js';
import { startProduct } from './support/product.js';
import { ApiUser, fundUntilOpen, UNIT } from './support/seed.js';
import { connectAndSignIn } from './support/steps.js';
import { TestWallet } from './support/wallet.js';

describe("a buyer's media, seen only by who may see it", { timeout: 600_000 }, () => {
  /** @type {import('./support/product.js').Product} */
  let product;
  /** @type {import('playwright-core').Browser} */
  let browser;

  before(async () => {
    product = await startProduct({ name: 'media' });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await product?.stop();
  });

  test('the buyer uploads a picture, the annotator holding the item sees it, nobody else, and the log says who opened it', async () => {
    const buyerDev = devAccount(PARTS.buyer);
    const buyer = await new ApiUser(product.url, buyerDev).signIn('buyer');
    const created = await buyer.post('/v1/datasets', {
      name: 'Private pets',
      label_classes: ['cat', 'dog', 'bird'],
      payment_token: product.paymentToken,
      price_per_label: UNIT / 4,
      reward_per_label: UNIT,
      instructions: 'Which animal is it?',
    });
    const route = `/v1/datasets/${created.id}`;

    // the buyer's page: the picture uploaded as a file, as a person picks it
    const picture = Buffer.from(await (await fetch(`${product.url}/media/pets/5.png`)).arrayBuffer());
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'll-media-')), 'pet.png');
    writeFileSync(file, picture);
    const buyerWallet = new TestWallet({ dev: buyerDev, rpcUrl: product.rpcUrl, chainId: product.chainId });
    const buyerApp = await openApp(browser, product.url, buyerWallet, 'media-buyer');
    await story(buyerApp.context, buyerApp.page, 'media-buyer-upload', async () => {
      const page = buyerApp.page;
      await connectAndSignIn(page, buyerDev.address);
      await page.goto(`${product.url}/buyer/datasets/${created.id}`);
      await page.getByRole('heading', { level: 2, name: 'Media', exact: true }).waitFor();
      await page.getByLabel('Media files to upload').setInputFiles(file);
      const uploaded = page.getByRole('table', { name: 'Uploaded media' });
      await uploaded.getByRole('cell', { name: 'pet.png', exact: true }).waitFor();
      await uploaded.getByText('"media:pet.png"').waitFor();
      await checkPage(page, 'media-buyer-uploaded');
    });
    const listed = await buyer.get(`${route}/media`);
    assert.equal(listed.length, 1);
    assert.equal(listed[0].size, picture.length, 'the file as uploaded');

    // the items refer to it; a reference to a file never uploaded is refused, nothing stored
    await assert.rejects(
      buyer.post(`${route}/items`, [{ id: 'lost', data: { image: 'media:missing.png' } }]),
      /unknown_media_reference/,
    );
    await buyer.post(`${route}/items`, [{ id: 'pet-1', data: { image: 'media:pet.png' } }]);
    const { chain: terms } = await buyer.get(route);
    await fundUntilOpen(product, buyerDev, buyer, route, terms, BigInt(UNIT * 2));

    // the annotator's workspace shows the picture through a signed URL of their own
    const dev = devAccount(PARTS.annotator);
    await new ApiUser(product.url, dev).signIn('annotator');
    const wallet = new TestWallet({ dev, rpcUrl: product.rpcUrl, chainId: product.chainId });
    const annotator = await openApp(browser, product.url, wallet, 'media-annotator');
    await story(annotator.context, annotator.page, 'media-annotator', async () => {
      const page = annotator.page;
      await connectAndSignIn(page, dev.address);
      await page.goto(`${product.url}/datasets/${created.id}/label`);
      const shown = page.getByRole('img', { name: 'Item pet-1' });
      await shown.waitFor();
      await page.waitForFunction(
        () => Array.from(document.images).some((img) => img.alt === 'Item pet-1' && img.complete && img.naturalWidth > 0),
      );
      const signed = (await shown.getAttribute('src')) ?? '';
      await checkPage(page, 'media-annotator-workspace');
      assert.match(signed, /^\/v1\/media\/\d+\/\d+\/pet\.png\?/, 'a signed URL ending with the file name');
      const url = new URL(signed, product.url);
      assert.equal(url.searchParams.get('wallet')?.toLowerCase(), dev.address.toLowerCase(), 'bound to the annotator');
      const opened = await fetch(url);
      assert.equal(opened.status, 200);
      assert.deepEqual(Buffer.from(await opened.arrayBuffer()), picture, 'the picture as uploaded');
      assert.equal(opened.headers.get('cache-control'), 'private, no-store');
      assert.equal(opened.headers.get('x-content-type-options'), 'nosniff');

      // the same URL for another wallet is not one we issued
      const other = new URL(url);
      other.searchParams.set('wallet', devAccount(PARTS.secondAnnotator).address);
      const forged = await fetch(other);
      assert.equal(forged.status, 403);
      assert.equal((await forged.json()).error.code, 'media_url_invalid');

      // once the annotator gives the item back, their URL opens nothing more
      await page.getByRole('button', { name: 'Release' }).click();
      await shown.waitFor({ state: 'detached' });
      const late = await fetch(url);
      assert.equal(late.status, 403);
      assert.equal((await late.json()).error.code, 'media_access_denied');
    });

    // the buyer sees each opening: who, as what, which item and file
    const log = await buyer.get(`${route}/media-access`);
    assert.ok(log.length >= 2, 'the browser and the direct opening are both logged');
    for (const row of log) {
      assert.equal(row.wallet.toLowerCase(), dev.address.toLowerCase());
      assert.equal(row.role, 'annotator');
      assert.equal(row.external_id, 'pet-1');
      assert.equal(row.object_name, 'pet.png');
    }
    const buyerWalletAgain = new TestWallet({ dev: buyerDev, rpcUrl: product.rpcUrl, chainId: product.chainId });
    const buyerAgain = await openApp(browser, product.url, buyerWalletAgain, 'media-buyer-log');
    await story(buyerAgain.context, buyerAgain.page, 'media-buyer-log', async () => {
      const page = buyerAgain.page;
      await connectAndSignIn(page, buyerDev.address);
      await page.goto(`${product.url}/buyer/datasets/${created.id}`);
      const table = page.getByRole('table', { name: 'Media openings' });
      await table.waitFor();
      assert.equal(await table.getByRole('row').count(), log.length + 1, 'a row per opening, and the header');
      await table.getByText('annotator holding the item').first().waitFor();
      await table.getByRole('cell', { name: 'pet-1', exact: true }).first().waitFor();
      await checkPage(page, 'media-buyer-log');
    });
  });
});
