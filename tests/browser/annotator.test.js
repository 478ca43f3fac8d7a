// @ts-check
/**
 * User stories of an annotator, driven as a person would (roles, names, keys) in Debian's
 * headless Chromium against a real `up`, with the Test Wallet. Every page visited is checked
 * with axe-core and photographed at desktop and phone sizes (artifacts/).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { devAccount, PARTS } from './support/accounts.js';
import { checkPage, DESKTOP, launchBrowser, openApp as openAppWith, story } from './support/pages.js';
import { REPO_ROOT } from './support/paths.js';
import { startProduct } from './support/product.js';
import {
  ApiUser,
  appointedReviewer,
  fundUntilOpen,
  labelThroughApi,
  PET_SENTENCES,
  seedClassesDataset,
  seedDatasetWithTerms,
  UNIT,
} from './support/seed.js';
import { selectWithMouse } from './support/steps.js';
import { TestWallet } from './support/wallet.js';

const DATASET = 'Pets in a sentence';
// Dev accounts no other story here uses (PARTS names the shared ones).
const DISPUTING_ANNOTATOR = 9;
const SECOND_REVIEWER = 8;
const WARM_UP_ANNOTATOR = 1;
const FAILED_WARM_UP_ANNOTATOR = 6;
// Its only other story here never labels (a wallet on the wrong network).
const SPANS_ANNOTATOR = PARTS.wrongChainAnnotator;
const CLASSES = ['cat', 'dog', 'bird'];
// Markdown, and a tag that would run script if the page put the buyer's text in as HTML.
const INSTRUCTIONS =
  '# Which animal?\n\nPick the animal the sentence is **about**.\n\n' +
  '<img src="instructions-probe" alt="probe" onerror="window.__instructionsRan = true">';

// Until the web app is in the repository there are no pages to drive; once it is, a missing
// build or a page that is not served fails these stories instead.
const noApp = existsSync(path.join(REPO_ROOT, 'web', 'package.json'))
  ? false
  : 'the web app (web/) is not in this checkout yet';

/** `0x1234…abcd`, as the banner shows an address, for any letter case. */
function shortAddress(/** @type {string} */ address) {
  return new RegExp(`${address.slice(0, 6)}…${address.slice(-4)}`, 'i');
}

describe('an annotator with nothing but a wallet', { skip: noApp, timeout: 600_000 }, () => {
  /** @type {import('./support/product.js').Product} */
  let product;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {{ buyer: ApiUser, dataset: any }} */
  let seeded;

  before(async () => {
    product = await startProduct({ name: 'annotator' });
    const home = await fetch(`${product.url}/`);
    const type = home.headers.get('content-type') ?? '';
    if (!home.ok || !type.startsWith('text/html')) {
      throw new Error(
        `GET / answered ${home.status} ${type}, not the web app: build it with ./scripts/setup ` +
          '(or cd web && npm run build)',
      );
    }
    seeded = await seedClassesDataset(product, devAccount(PARTS.buyer), {
      name: DATASET,
      classes: CLASSES,
      items: PET_SENTENCES,
      instructions: INSTRUCTIONS,
    });
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


  /** Connect wallet, then the Test Wallet among those EIP-6963 found. */
  async function connect(/** @type {import('playwright-core').Page} */ page) {
    await page.getByRole('banner').getByRole('button', { name: 'Connect wallet' }).click();
    await page.getByRole('button', { name: 'Connect Test Wallet' }).click();
  }

  /** Connects and signs in a wallet whose account took the annotator role through the API. */
  async function signedIn(/** @type {number} */ index, /** @type {string} */ name) {
    const dev = devAccount(index);
    const wallet = new TestWallet({ dev, rpcUrl: product.rpcUrl, chainId: product.chainId });
    const { context, page } = await openApp(wallet, name);
    return { dev, context, page };
  }

  async function signIn(/** @type {import('playwright-core').Page} */ page) {
    await connect(page);
    await page.getByRole('banner').getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('banner').getByRole('button', { name: 'Sign out' }).waitFor();
  }

  test('connects the Test Wallet, signs in, takes the annotator role, labels three items with keys 1 to 3 and finds them pending in My labels', async () => {
    const dev = devAccount(PARTS.annotator);
    const wallet = new TestWallet({ dev, rpcUrl: product.rpcUrl, chainId: product.chainId });
    const { context, page } = await openApp(wallet, 'annotator');
    await story(context, page, 'annotator', async () => {
      const banner = page.getByRole('banner');
      await banner.getByRole('button', { name: 'Connect wallet' }).waitFor();
      await checkPage(page, 'home-not-connected');
      await connect(page);
      await banner.getByText(shortAddress(dev.address)).first().waitFor();

      const opened = page.waitForResponse(
        (response) => response.url().endsWith('/v1/auth/session') && response.request().method() === 'POST',
      );
      await banner.getByRole('button', { name: 'Sign in' }).click();
      const session = await opened;
      assert.equal(session.status(), 201, `sign-in refused: ${await session.text()}`);
      const token = (await session.json()).access_token;
      await banner.getByText(new RegExp(`Signed in as ${shortAddress(dev.address).source}`, 'i')).waitFor();
      await banner.getByRole('button', { name: 'Sign out' }).waitFor();
      await page.getByRole('status').filter({ hasText: /In sync|\d+ blocks? behind/ }).first().waitFor();
      await checkPage(page, 'home-signed-in');

      const navigation = page.getByRole('navigation');
      await navigation.getByRole('link', { name: 'Account' }).click();
      await page.waitForURL(/\/account$/);
      await page.getByRole('button', { name: 'Take the annotator role' }).click();
      await page.getByRole('button', { name: 'Take the annotator role' }).waitFor({ state: 'detached' });
      await page.getByRole('main').getByText('annotator').first().waitFor();
      for (const role of ['buyer', 'auditor']) {
        await page.getByRole('button', { name: `Take the ${role} role` }).waitFor();
      }
      await checkPage(page, 'annotator-account');

      await navigation.getByRole('link', { name: 'Datasets', exact: true }).click();
      await page.waitForURL(/\/datasets$/);
      const listed = page.getByRole('link', { name: DATASET });
      await listed.waitFor();
      await page.getByText('0.25 dUSD').first().waitFor();
      await page.getByText('1 LABEL').first().waitFor();
      await checkPage(page, 'annotator-datasets');

      await listed.click();
      await page.waitForURL(new RegExp(`/datasets/${seeded.dataset.id}$`));
      await page.getByRole('heading', { name: DATASET }).waitFor();
      await page.getByRole('heading', { name: 'Which animal?' }).waitFor();
      await page.getByText(seeded.dataset.chain.salt).waitFor(); // the terms hash
      await page.getByText('0.25 dUSD').first().waitFor();
      await page.getByText('1 LABEL').first().waitFor();
      await page.getByText(shortAddress(seeded.buyer.address)).first().waitFor(); // whose record
      assert.equal(await page.locator('img[src="instructions-probe"]').count(), 0, 'no HTML from the buyer');
      assert.equal(await page.evaluate(() => /** @type {any} */ (window).__instructionsRan), undefined);
      await checkPage(page, 'annotator-dataset');
      await page
        .getByRole('link', { name: 'Start labelling' })
        .or(page.getByRole('button', { name: 'Start labelling' }))
        .click();
      await page.waitForURL(new RegExp(`/datasets/${seeded.dataset.id}/label$`));

      await page.getByRole('heading', { level: 1, name: `Labelling ${DATASET}` }).waitFor();
      const classes = page.getByRole('group', { name: 'Classes' });
      for (const [index, name] of CLASSES.entries()) {
        const button = classes.getByRole('button', { name, exact: true });
        assert.equal(await button.getAttribute('aria-keyshortcuts'), String(index + 1), `${name}'s key`);
      }
      const keysShown = (await classes.textContent()) ?? '';
      for (const key of ['1', '2', '3']) assert.ok(keysShown.includes(key), `key ${key} is shown`);
      /** @type {string[]} */
      const submitted = [];
      page.on('request', (request) => {
        if (request.method() === 'POST' && new URL(request.url()).pathname.startsWith('/v1/labels')) {
          submitted.push(new URL(request.url()).pathname);
        }
      });
      await page.getByRole('button', { name: 'Skip' }).waitFor();
      await page.getByRole('button', { name: 'Release' }).waitFor();
      const shownItem = async () => {
        const shown = [];
        for (const [externalId, text] of PET_SENTENCES) {
          if (await page.getByText(text).first().isVisible()) shown.push(externalId);
        }
        assert.equal(shown.length, 1, `one item's text is shown, not ${JSON.stringify(shown)}`);
        return shown[0];
      };
      await page.getByText(new RegExp(PET_SENTENCES.map(([, text]) => text).join('|'))).first().waitFor();
      await checkPage(page, 'annotator-workspace');

      /** @type {Map<string, string>} external id -> the class its key gave it */
      const labelled = new Map();
      for (const [index, name] of CLASSES.entries()) {
        const item = await shownItem();
        await page.keyboard.press(String(index + 1));
        labelled.set(item, name);
        await page
          .getByRole('status')
          .filter({ hasText: new RegExp(`Labelled ${index + 1} items?`) })
          .waitFor();
      }
      await page.getByRole('status').filter({ hasText: 'Labelled 3 items' }).waitFor();
      assert.deepEqual(submitted, Array(3).fill('/v1/labels/and-next'), 'each key is one submit-and-next');
      assert.ok(!labelled.has(await shownItem()), 'the next item shown is not one already labelled');

      await navigation.getByRole('link', { name: 'My labels' }).click();
      await page.waitForURL(/\/me\/labels$/);
      const table = page.getByRole('table', { name: 'My labels' });
      await table.waitFor();
      for (const [externalId, value] of labelled) {
        const row = table.getByRole('row').filter({ hasText: externalId });
        await row.waitFor();
        const cells = await row.getByRole('cell').allTextContents();
        assert.ok(cells.includes(value), `${externalId}'s row shows ${value}: ${cells}`);
        assert.ok(cells.includes('pending'), `${externalId}'s row shows pending: ${cells}`);
      }
      assert.equal(await table.getByRole('row').filter({ hasText: /pet-\d\d/ }).count(), 3);
      await checkPage(page, 'annotator-my-labels');

      // The database agrees: the app's own token, and the buyer's view of the dataset.
      const annotator = new ApiUser(product.url, dev);
      annotator.token = token;
      const mine = await annotator.get('/v1/me/labels');
      const stored = (/** @type {any[]} */ labels) =>
        labels
          .filter((label) => label.dataset_id === seeded.dataset.id)
          .map((label) => [label.external_id, label.value, label.status, label.annotator])
          .sort();
      const expected = [...labelled]
        .map(([externalId, value]) => [externalId, value, 'pending', dev.address])
        .sort();
      assert.deepEqual(stored(mine), expected);
      assert.deepEqual(stored(await seeded.buyer.get(`/v1/datasets/${seeded.dataset.id}/labels?status=pending`)), expected);
    });
  });

  test('an annotator releases one item, skips another, and is told when nothing more is left', async () => {
    const name = 'Two birds, briefly';
    const { dataset, buyer } = await seedClassesDataset(product, devAccount(PARTS.buyer), {
      name,
      classes: CLASSES,
      items: [
        ['bird-1', 'A heron stands still in the shallow reeds.'],
        ['bird-2', 'The magpie steals a shiny bottle cap.'],
      ],
      instructions: 'Pick the animal.',
    });
    const dev = devAccount(PARTS.secondAnnotator);
    const wallet = new TestWallet({ dev, rpcUrl: product.rpcUrl, chainId: product.chainId });
    const { context, page } = await openApp(wallet, 'release-skip');
    await story(context, page, 'release-skip', async () => {
      await connect(page);
      await page.getByRole('banner').getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('banner').getByRole('button', { name: 'Sign out' }).waitFor();
      await page.getByRole('navigation').getByRole('link', { name: 'Account' }).click();
      await page.getByRole('button', { name: 'Take the annotator role' }).click();
      await page.getByRole('button', { name: 'Take the annotator role' }).waitFor({ state: 'detached' });
      await page.goto(`${product.url}/datasets/${dataset.id}/label`);
      await page.getByRole('heading', { level: 1, name: `Labelling ${name}` }).waitFor();
      const heron = page.getByText('A heron stands still in the shallow reeds.');
      const magpie = page.getByText('The magpie steals a shiny bottle cap.');
      await heron.or(magpie).first().waitFor();
      const heronFirst = await heron.isVisible();
      const [first, second] = heronFirst ? [heron, magpie] : [magpie, heron];
      await page.getByRole('button', { name: 'Release' }).click();
      await second.waitFor();
      await page.getByRole('button', { name: 'Skip' }).click();
      await page.getByText('Nothing more to label in this dataset').waitFor();
      assert.equal(await first.count(), 0, 'a released item is not served again to whoever released it');
      await checkPage(page, 'annotator-nothing-more');
      // The buyer sees the skip (and only the skip: a release is no verdict on the item).
      const skips = await buyer.get(`/v1/datasets/${dataset.id}/skips`);
      assert.deepEqual(
        skips.map((/** @type {any} */ item) => [item.external_id, item.skips]),
        [[heronFirst ? 'bird-2' : 'bird-1', 1]],
      );
    });
  });

  test('a visitor whose browser has no wallet is told how to get one', async () => {
    const context = await browser.newContext({ viewport: DESKTOP });
    context.setDefaultTimeout(20_000);
    const page = await context.newPage();
    await story(context, page, 'no-wallet', async () => {
      await page.goto(`${product.url}/`);
      const banner = page.getByRole('banner');
      await banner.getByRole('button', { name: 'Connect wallet' }).click();
      await banner.getByText(/no wallet|install/i).first().waitFor();
      const wallets = banner.getByRole('button', { name: /^Connect (?!wallet$)/ });
      assert.equal(await wallets.count(), 0, 'no wallet to connect is offered');
      await checkPage(page, 'no-wallet');
    });
  });

  test('a wallet left on another network is told so, and switches to the dev chain from the alert', async () => {
    const dev = devAccount(PARTS.wrongChainAnnotator);
    const wallet = new TestWallet({
      dev,
      rpcUrl: product.rpcUrl,
      chainId: product.chainId,
      startChainId: 1,
    });
    const { context, page } = await openApp(wallet, 'wrong-network');
    await story(context, page, 'wrong-network', async () => {
      await connect(page);
      const alert = page.getByRole('alert').filter({ has: page.getByRole('button', { name: /^Switch to / }) });
      await alert.waitFor();
      await checkPage(page, 'wrong-network');
      const network = ((await alert.getByRole('button', { name: /^Switch to / }).textContent()) ?? '')
        .replace(/^\s*Switch to\s*/, '')
        .trim();
      assert.ok(network, 'the alert names the network to switch to');
      await alert.getByRole('button', { name: /^Switch to / }).click();
      await alert.waitFor({ state: 'detached' });
      await page.getByRole('banner').getByText(network, { exact: true }).first().waitFor();
      assert.equal(wallet.chainId, product.chainId, 'the wallet is on the dev chain now');
      assert.ok(wallet.requests.includes('wallet_switchEthereumChain'));
      await page.getByRole('banner').getByRole('button', { name: 'Sign in' }).waitFor();
      await checkPage(page, 'right-network');
    });
  });
  test('an annotator disputes a rejected label from My labels, is told when a label was disputed already, and finds the dispute won once another reviewer upholds it', async () => {
    const name = 'Pets to dispute';
    const { dataset, buyer } = await seedClassesDataset(product, devAccount(PARTS.buyer), {
      name,
      classes: CLASSES,
      items: [
        ['dispute-1', 'The old tomcat sleeps in the laundry basket.'],
        ['dispute-2', 'A collie herds the ducks across the yard.'],
      ],
      instructions: 'Pick the animal.',
    });
    const rejecter = await appointedReviewer(product, buyer, dataset.id, devAccount(PARTS.reviewer));
    const decider = await appointedReviewer(product, buyer, dataset.id, devAccount(SECOND_REVIEWER));
    const annotator = await new ApiUser(product.url, devAccount(DISPUTING_ANNOTATOR)).signIn('annotator');
    const [first, second] = await labelThroughApi(annotator, dataset.id, 2, () => 'cat');
    for (const made of [first, second]) {
      await rejecter.post(`/v1/labels/${made.id}/review`, { verdict: 'reject', reason: 'the sentence is about a dog' });
    }

    const { context, page } = await signedIn(DISPUTING_ANNOTATOR, 'dispute');
    await story(context, page, 'dispute', async () => {
      await signIn(page);
      await page.getByRole('navigation').getByRole('link', { name: 'My labels' }).click();
      await page.waitForURL(/\/me\/labels$/);
      const table = page.getByRole('table', { name: 'My labels' });
      const rowOf = (/** @type {any} */ made) => table.getByRole('row').filter({ hasText: made.external_id });
      for (const made of [first, second]) {
        await rowOf(made).getByRole('button', { name: `Dispute label ${made.id}`, exact: true }).waitFor();
        await rowOf(made).getByText('the sentence is about a dog').waitFor();
      }
      await checkPage(page, 'annotator-my-labels-rejected');

      // A form opened by mistake is cancelled, and the keyboard is back on its button.
      const secondButton = rowOf(second).getByRole('button', { name: `Dispute label ${second.id}`, exact: true });
      await secondButton.click();
      await rowOf(second).getByRole('button', { name: 'Cancel' }).click();
      assert.equal(await secondButton.evaluate((element) => element === document.activeElement), true);

      // Disputed from the labels page.
      await rowOf(first).getByRole('button', { name: `Dispute label ${first.id}`, exact: true }).click();
      const comment = page.getByRole('textbox', { name: 'Why your label is right' });
      assert.equal(await comment.evaluate((element) => element === document.activeElement), true, 'the comment has focus');
      await comment.fill('A tomcat is a male cat.');
      await checkPage(page, 'annotator-dispute-form');
      await page.getByRole('button', { name: 'Open dispute', exact: true }).click();
      await rowOf(first).getByText(/Dispute open/).waitFor();
      assert.match(await page.evaluate(() => document.activeElement?.textContent ?? ''), /^Dispute open/, 'focus on the dispute');
      assert.equal(await rowOf(first).getByRole('button', { name: /^Dispute label/ }).count(), 0, 'disputed once');

      // Disputed meanwhile elsewhere (here: the API), the page's button is stale: the refusal
      // says so in words, and the row then shows the dispute.
      await annotator.post(`/v1/labels/${second.id}/disputes`, { comment: 'Collies herd, but so what: it is a cat?' });
      await rowOf(second).getByRole('button', { name: `Dispute label ${second.id}`, exact: true }).click();
      await page.getByRole('textbox', { name: 'Why your label is right' }).fill('Once more.');
      await page.getByRole('button', { name: 'Open dispute', exact: true }).click();
      await rowOf(second).getByText(/Dispute open/).waitFor();
      await page.getByRole('alert').filter({ hasText: 'has been disputed already' }).waitFor();
      await page.getByRole('alert').filter({ hasText: 'Wait for a reviewer or an operator to decide it' }).waitFor();
      await checkPage(page, 'annotator-dispute-open');

      // What the service holds is what the page said.
      const mine = await annotator.get('/v1/me/disputes');
      const opened = mine.find((/** @type {any} */ d) => d.label_id === first.id);
      assert.equal(opened?.comment, 'A tomcat is a male cat.');
      assert.equal(opened?.status, 'open');

      // Another reviewer decides: the first upheld, the second denied.
      const queue = await decider.get('/v1/disputes/queue');
      const disputeOf = (/** @type {any} */ made) => queue.find((/** @type {any} */ d) => d.label_id === made.id);
      assert.ok(disputeOf(first) && disputeOf(second), 'both disputes wait for the other reviewer');
      await decider.post(`/v1/disputes/${disputeOf(first).id}/decision`, { verdict: 'uphold', reason: 'a tomcat is a cat' });
      await decider.post(`/v1/disputes/${disputeOf(second).id}/decision`, { verdict: 'deny', reason: 'a collie is a dog' });

      // Back on My labels (as anyone would come back to it), the decisions are there.
      await page.getByRole('navigation').getByRole('link', { name: 'Datasets', exact: true }).click();
      await page.waitForURL(/\/datasets$/);
      await page.getByRole('navigation').getByRole('link', { name: 'My labels' }).click();
      await page.waitForURL(/\/me\/labels$/);
      await rowOf(first).getByText(/Dispute won/).waitFor();
      await rowOf(first).getByText(/a tomcat is a cat/).first().waitFor();
      // The disputes and the labels are two reads: the row may show the dispute's outcome a moment
      // before the label's new status, so wait for the status rather than read it at once.
      await rowOf(first).getByRole('cell', { name: 'verified', exact: true }).waitFor();
      await rowOf(second).getByText(/Dispute lost/).waitFor();
      await rowOf(second).getByText(/a collie is a dog/).waitFor();
      await rowOf(second).getByRole('cell', { name: 'rejected', exact: true }).waitFor();
      await checkPage(page, 'annotator-disputes-decided');
      const labels = await annotator.get('/v1/me/labels');
      assert.equal(labels.find((/** @type {any} */ l) => l.id === first.id)?.status, 'verified');
    });
  });

  test('a dataset with a gold warm-up says so on its page and in the workspace until it is passed; a failed one is told what to do', async () => {
    const name = 'Pets, warm-up first';
    const gold = { 'warm-1': 'cat', 'warm-2': 'bird' };
    const texts = /** @type {const} */ ([
      ['warm-1', 'A Siamese yowls at the closed fridge door.'],
      ['warm-2', 'An owl calls twice from the barn roof.'],
      ['paid-1', 'The beagle follows a scent across the field.'],
      ['paid-2', 'A parrot repeats the word hello all day.'],
    ]);
    const { dataset } = await seedDatasetWithTerms(product, devAccount(PARTS.buyer), {
      name,
      classes: CLASSES,
      items: texts,
      instructions: 'Pick the animal.',
      verification: { qualification_gold_items: 2, qualification_min_accuracy: 1.0, gold_overlap: 3 },
      gold,
    });
    await new ApiUser(product.url, devAccount(WARM_UP_ANNOTATOR)).signIn('annotator');
    // Someone who answers both warm-up items wrong, through the API, before opening the app.
    const failing = await new ApiUser(product.url, devAccount(FAILED_WARM_UP_ANNOTATOR)).signIn('annotator');
    await labelThroughApi(failing, dataset.id, 2, () => 'dog');

    const { context, page } = await signedIn(WARM_UP_ANNOTATOR, 'warm-up');
    await story(context, page, 'warm-up', async () => {
      await signIn(page);
      await page.goto(`${product.url}/datasets/${dataset.id}`);
      await page.getByRole('heading', { name }).waitFor();
      await page.getByText('2 gold items with known answers before paid work').waitFor();
      await checkPage(page, 'annotator-dataset-warm-up');

      await page.getByRole('link', { name: 'Start labelling' }).click();
      await page.getByRole('heading', { level: 1, name: `Labelling ${name}` }).waitFor();
      const warmUp = page.getByRole('status').filter({ hasText: /Warm-up/ });
      await warmUp.filter({ hasText: 'Warm-up: 0 of 2 gold items' }).waitFor();
      assert.match((await warmUp.textContent()) ?? '', /checked against known answers before you get paid work/);
      await checkPage(page, 'annotator-workspace-warm-up');

      const shown = async () => {
        for (const [externalId, text] of texts) {
          if (await page.getByText(text).isVisible()) return externalId;
        }
        throw new Error('no item of the dataset is shown');
      };
      for (const step of [1, 2]) {
        const item = await shown();
        assert.ok(item in gold, `the warm-up serves gold items only, not ${item}`);
        await page.keyboard.press(String(CLASSES.indexOf(gold[/** @type {'warm-1' | 'warm-2'} */ (item)]) + 1));
        await page.getByRole('status').filter({ hasText: `Labelled ${step} item` }).waitFor();
        if (step === 1) await warmUp.filter({ hasText: 'Warm-up: 1 of 2 gold items' }).waitFor();
      }
      await page.getByRole('status').filter({ hasText: 'Warm-up passed: 2 of 2 right' }).waitFor();
      assert.ok(!((await shown()) in gold), 'paid work follows the warm-up');
      await checkPage(page, 'annotator-workspace-warm-up-passed');
    });

    const failed = await signedIn(FAILED_WARM_UP_ANNOTATOR, 'warm-up-failed');
    await story(failed.context, failed.page, 'warm-up-failed', async () => {
      const { page: other } = failed;
      await signIn(other);
      await other.goto(`${product.url}/datasets/${dataset.id}/label`);
      await other.getByText(/0 of your 2 warm-up answers/).waitFor();
      await other.getByText(/paid work only to annotators who pass its warm-up/).waitFor();
      await other.getByRole('link', { name: 'find other work' }).waitFor();
      assert.equal(await other.getByRole('status').filter({ hasText: /Warm-up:/ }).count(), 0, 'no warm-up under way');
      await checkPage(other, 'annotator-workspace-warm-up-failed');
    });
  });

  test('a spans item that names a text on the server by its URL shows that text, and a word selected with the mouse is stored as offsets into that text', async () => {
    const name = 'Places, by their text files';
    // Which texts ledger/media.py serves at /media/texts/<n>.txt and where each one's place is
    // (Python counts code points, as the service and the span tool do). Tromsø: not ASCII.
    const numbers = [0, 5];
    /** @type {{ text: string, place: string, span: [number, number] }[]} */
    const texts = JSON.parse(
      execFileSync(
        path.join(REPO_ROOT, '.venv', 'bin', 'python'),
        [
          '-c',
          'import json, sys\nfrom ledger.media import TEXTS\n' +
            'print(json.dumps([{"text": TEXTS[int(n)].text, "place": TEXTS[int(n)].place, ' +
            '"span": list(TEXTS[int(n)].place_span)} for n in sys.argv[1:]]))',
          ...numbers.map(String),
        ],
        { cwd: REPO_ROOT, encoding: 'utf8' },
      ),
    );
    // One item's data is the URL itself, the other's a `text_url` field.
    const items = [
      { id: 'by-url-0', data: `/media/texts/${numbers[0]}.txt` },
      { id: 'by-url-5', data: { text_url: `/media/texts/${numbers[1]}.txt` } },
    ];
    const truth = new Map(items.map((item, i) => [item.id, texts[i]]));
    const { dataset } = await seedSpansDataset(name, items);
    const annotator = await new ApiUser(product.url, devAccount(SPANS_ANNOTATOR)).signIn('annotator');

    const { context, page } = await signedIn(SPANS_ANNOTATOR, 'spans-by-url');
    await story(context, page, 'spans-by-url', async () => {
      await signIn(page);
      await page.goto(`${product.url}/datasets/${dataset.id}/label`);
      await page.getByRole('heading', { level: 1, name: `Labelling ${name}` }).waitFor();
      /** @type {Map<string, [number, number]>} */
      const selected = new Map();
      for (let n = 1; n <= items.length; n += 1) {
        const item = ((await page.locator('.item-id').textContent()) ?? '').replace(/^Item /, '').trim();
        const expected = truth.get(item);
        assert.ok(expected, `the workspace shows an item of the dataset, not ${item}`);
        const paragraph = page.locator('.span-text');
        await paragraph.filter({ hasText: expected.text }).waitFor();
        assert.equal(((await paragraph.textContent()) ?? '').trim(), expected.text, "the text is the file's, not its URL");
        assert.equal(await page.getByText('This item has no text to select in').count(), 0);
        await selectWithMouse(page, expected.text, expected.place);
        const [start, end] = expected.span;
        await page.getByRole('status').filter({ hasText: `Selected characters ${start} to ${end}: “${expected.place}”` }).waitFor();
        if (n === 1) await checkPage(page, 'annotator-workspace-spans-by-url');
        await page.getByRole('button', { name: 'Submit the selection' }).click();
        await page
          .getByRole('status')
          .filter({ hasText: `Labelled ${n} ${n === 1 ? 'item' : 'items'}` })
          .waitFor();
        selected.set(item, [start, end]);
      }
      await page.getByText('Nothing more to label in this dataset').waitFor();

      // What the service stored, read from Node: offsets into each text, the place's own.
      const stored = (await annotator.get('/v1/me/labels'))
        .filter((/** @type {any} */ label) => label.dataset_id === dataset.id)
        .map((/** @type {any} */ label) => [label.external_id, JSON.parse(label.value)])
        .sort();
      assert.deepEqual(stored, [...selected].sort());
      for (const [item, [start, end]] of stored) {
        const { text, place } = /** @type {{ text: string, place: string }} */ (truth.get(item));
        assert.equal(Array.from(text).slice(start, end).join(''), place, `${item}'s span is the place in its text`);
      }
    });
  });

  /**
   * A spans dataset of `items` (as the API takes them), funded from Node and seen open.
   * @param {string} name
   * @param {{ id: string, data: unknown }[]} items
   */
  async function seedSpansDataset(name, items) {
    const buyerDev = devAccount(PARTS.buyer);
    const buyer = await new ApiUser(product.url, buyerDev).signIn('buyer');
    const price = UNIT / 4;
    const created = await buyer.post('/v1/datasets', {
      name,
      label_type: 'spans',
      payment_token: product.paymentToken,
      price_per_label: price,
      reward_per_label: UNIT,
      instructions: 'Select the name of the place the sentence mentions.',
    });
    const route = `/v1/datasets/${created.id}`;
    await buyer.post(`${route}/items`, items);
    const { chain: terms } = await buyer.get(route);
    const budget = BigInt(price * items.length * 2);
    const dataset = await fundUntilOpen(product, buyerDev, buyer, route, terms, budget);
    return { buyer, dataset };
  }
});
