// @ts-check
/**
 * Amounts beyond 2^53 base units, exactly: the API sends them as JSON integers, which JSON.parse
 * rounds; the app reads them without rounding (web/src/api/json.ts) and writes them as the exact
 * integer when it sends one. An annotator sees a dataset's reward of 123456789012345678901 base
 * units as exactly that; a buyer creates a dataset through the form with a reward whose base
 * units exceed 2^53, and the service stores exactly the integer typed; an API field error
 * (an amount beyond uint256) is said beside its field. Against a real `up`, in Chromium.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatUnits } from 'viem';
import { devAccount, PARTS } from './support/accounts.js';
import { checkPage, DESKTOP, launchBrowser, openApp as openAppWith, PHONE, story } from './support/pages.js';
import { REPO_ROOT } from './support/paths.js';
import { startProduct } from './support/product.js';
import { abiOf, ApiUser, fundUntilOpen, PET_SENTENCES, UNIT, walletClientOf } from './support/seed.js';
import { TestWallet } from './support/wallet.js';

/** A reward of base units far beyond Number.MAX_SAFE_INTEGER (9007199254740991). */
const HUGE_REWARD = 123456789012345678901n;
/** What the buyer types, in LABEL, and the base units it is (LABEL has the decimals the chain says). */
const TYPED_REWARD = '123456789012.345678';
const TYPED_REWARD_UNITS = 123456789012345678n;
const CLASSES = ['cat', 'dog', 'bird'];

const noApp = existsSync(path.join(REPO_ROOT, 'web', 'package.json'))
  ? false
  : 'the web app (web/) is not in this checkout yet';

/**
 * A JSON body's integer field, read from the text (JSON.parse would round it).
 * @param {string} body
 * @param {string} field
 */
function integerIn(body, field) {
  const found = new RegExp(`"${field}":\\s*(-?[0-9]+)[,}\\s]`).exec(body);
  assert.ok(found, `${field} is not an integer in ${body.slice(0, 300)}`);
  return BigInt(found[1]);
}

/**
 * The value shown beside a fact's name in the page's lists of facts.
 * @param {import('playwright-core').Page} page
 * @param {string} name
 */
function factOf(page, name) {
  const exact = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  return page.locator('.facts > div').filter({ has: page.getByRole('term').filter({ hasText: exact }) }).getByRole('definition');
}

describe('amounts beyond 2^53 base units', { skip: noApp, timeout: 600_000 }, () => {
  /** @type {import('./support/product.js').Product} */
  let product;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** LABEL's decimals, read from the chain (never assumed). */
  let decimals = 0;

  before(async () => {
    product = await startProduct({ name: 'amounts', upArgs: ['--settle-every', '0'] });
    browser = await launchBrowser();
    const chain = walletClientOf(product, devAccount(PARTS.harness));
    decimals = Number(
      await chain.readContract({ address: product.ledger, abi: abiOf('LabelLedger.sol', 'LabelLedger'), functionName: 'decimals' }),
    );
  });

  after(async () => {
    await browser?.close();
    await product?.stop();
  });

  /**
   * A wallet's page, connected and signed in.
   * @param {number} index the dev account
   * @param {string} name
   */
  async function signedIn(index, name) {
    const dev = devAccount(index);
    const wallet = new TestWallet({ dev, rpcUrl: product.rpcUrl, chainId: product.chainId });
    const opened = await openAppWith(browser, product.url, wallet, name);
    const banner = opened.page.getByRole('banner');
    await banner.getByRole('button', { name: 'Connect wallet' }).click();
    await opened.page.getByRole('button', { name: 'Connect Test Wallet' }).click();
    await banner.getByRole('button', { name: 'Sign in' }).click();
    await banner.getByRole('button', { name: 'Sign out' }).waitFor();
    return opened;
  }

  test("an annotator sees a dataset's reward of 123456789012345678901 base units exactly", async () => {
    // The buyer's part through the API and the chain: a dataset with that reward, funded.
    const buyer = await new ApiUser(product.url, devAccount(PARTS.buyer)).signIn('buyer');
    const price = UNIT / 4;
    const create = await fetch(`${product.url}/v1/datasets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${buyer.token}`, 'content-type': 'application/json' },
      // the exact literal: JSON.stringify cannot write a bigint
      body: `{"name": "Pets, richly rewarded", "label_classes": ${JSON.stringify(CLASSES)}, "payment_token": "${product.paymentToken}", "price_per_label": ${price}, "reward_per_label": ${HUGE_REWARD}, "instructions": "Pick the animal."}`,
    });
    const created = await create.text();
    assert.equal(create.status, 201, created);
    const id = Number(integerIn(created, 'id'));
    assert.equal(integerIn(created, 'reward_per_label'), HUGE_REWARD, 'the service stores the reward exactly');
    await buyer.post(`/v1/datasets/${id}/items`, PET_SENTENCES.slice(0, 4).map(([key, text]) => ({ id: key, data: { text } })));
    const { chain: terms } = await buyer.get(`/v1/datasets/${id}`);
    const budget = BigInt(price * 8);
    await fundUntilOpen(product, buyer.dev, buyer, `/v1/datasets/${id}`, terms, budget);

    const exact = `${formatUnits(HUGE_REWARD, decimals)} LABEL`;
    const rounded = `${formatUnits(BigInt(Number(HUGE_REWARD)), decimals)} LABEL`;
    assert.notEqual(exact, rounded, 'JSON.parse would show another amount: the story tells them apart');

    const { context, page } = await signedIn(PARTS.annotator, 'amounts-annotator');
    await story(context, page, 'amounts-annotator', async () => {
      await page.goto(`${product.url}/datasets/${id}`);
      await page.getByRole('heading', { name: 'Pets, richly rewarded' }).waitFor();
      const reward = factOf(page, 'Reward per label');
      await reward.getByText(exact, { exact: true }).waitFor();
      assert.equal(await reward.locator('.amount').innerText(), exact);
      assert.equal(await factOf(page, 'Pays per verified label').locator('.amount').innerText(), '0.25 dUSD');
      // the page's engine has JSON.parse source text access (the client's first way of reading)
      assert.equal(
        await page.evaluate(() => {
          let seen = false;
          /** @type {(key: string, value: unknown, context?: { source?: string }) => unknown} */
          const reviver = (_key, value, context) => {
            seen = context?.source === '1';
            return value;
          };
          JSON.parse('1', reviver);
          return seen;
        }),
        true,
      );
      await checkPage(page, 'amounts-annotator-dataset');
    });
  });

  test('a buyer creates a dataset whose reward exceeds 2^53 base units, and the service stores exactly what was typed; field errors show beside their fields', async () => {
    const buyer = await new ApiUser(product.url, devAccount(PARTS.secondAnnotator)).signIn('buyer');
    const { context, page } = await signedIn(PARTS.secondAnnotator, 'amounts-buyer');
    await story(context, page, 'amounts-buyer', async () => {
      await page.goto(`${product.url}/buyer/new`);
      await page.getByRole('heading', { level: 1, name: 'New dataset' }).waitFor();
      await page.getByLabel('Name').fill('Pets, exactly rewarded');
      await page.getByLabel('Classes', { exact: true }).fill(CLASSES.join('\n'));
      const price = page.getByLabel(/Price per verified label \(dUSD\)/);
      const reward = page.getByLabel(/Reward per verified label \(LABEL\)/);

      // More decimals than LABEL has would be rounded away: refused beside the field, not sent.
      await price.fill('0.25');
      await reward.fill(`0.${'1'.repeat(decimals + 1)}`);
      await page.getByRole('button', { name: 'Create the dataset' }).click();
      await page.locator('#reward-error').filter({ hasText: `at most ${decimals} decimals` }).waitFor();
      assert.equal(await reward.getAttribute('aria-invalid'), 'true');

      // An amount beyond uint256 goes to the service exactly (no rounding to 1e+80), which
      // refuses it; its field error (the envelope's `fields`) is shown beside the price.
      await reward.fill(TYPED_REWARD);
      await price.fill(`1${'0'.repeat(80)}`);
      await page.getByRole('button', { name: 'Create the dataset' }).click();
      const priceError = page.locator('#price-error');
      await priceError.filter({ hasText: /less than or equal to/ }).waitFor();
      assert.match((await price.getAttribute('aria-describedby')) ?? '', /\bprice-error\b/);
      assert.equal(await price.getAttribute('aria-invalid'), 'true');
      assert.equal(await page.locator('#reward-error').count(), 0, 'the reward is fine now');
      await page.getByRole('alert').filter({ hasText: 'correct what is marked below each field' }).waitFor();
      await checkPage(page, 'amounts-buyer-new-refused');
      // the message quotes uint256's 78-digit maximum: it wraps on a phone, the page does not scroll sideways
      await page.setViewportSize(PHONE);
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scroll');
      await page.setViewportSize(DESKTOP);

      await price.fill('0.25');
      await page.getByRole('button', { name: 'Create the dataset' }).click();
      await page.waitForURL(/\/buyer\/datasets\/\d+$/);
      const id = Number(new URL(page.url()).pathname.split('/').pop());
      await page.getByRole('heading', { level: 1, name: 'Pets, exactly rewarded' }).waitFor();
      await page.getByText(`${TYPED_REWARD} LABEL`, { exact: true }).first().waitFor();

      // what the service stores, read from its JSON text (JSON.parse would round it)
      const stored = await fetch(`${product.url}/v1/datasets/${id}`, { headers: { authorization: `Bearer ${buyer.token}` } });
      const body = await stored.text();
      assert.equal(stored.status, 200, body);
      assert.equal(integerIn(body, 'reward_per_label'), TYPED_REWARD_UNITS);
      assert.ok(TYPED_REWARD_UNITS > BigInt(Number.MAX_SAFE_INTEGER));
      assert.equal(integerIn(body, 'price_per_label'), BigInt(UNIT / 4));
      await checkPage(page, 'amounts-buyer-dataset');
    });
  });
});
