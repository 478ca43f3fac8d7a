// @ts-check
/**
 * What a person does on the app's pages, one step at a time, for stories that play several
 * people at once: each person is an Actor (their own browser profile and Test Wallet), and each
 * step is done through the pages only (clicks, keys, mouse drags, text selections, files picked
 * in a file input). Nothing here calls the API from Node.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { devAccount } from './accounts.js';
import { openApp } from './pages.js';
import { ARTIFACTS } from './paths.js';
import { TestWallet } from './wallet.js';

/** @typedef {import('playwright-core').Page} Page */

/**
 * @typedef {object} Actor
 * @property {string} name names the actor's files in artifacts/
 * @property {ReturnType<typeof devAccount>} dev
 * @property {TestWallet} wallet
 * @property {import('playwright-core').BrowserContext} context
 * @property {Page} page
 * @property {string[]} problems the page's errors and console errors so far
 */

/** `0x1234…abcd`, as the banner shows an address, for any letter case. */
export function shortAddress(/** @type {string} */ address) {
  return new RegExp(`${address.slice(0, 6)}…${address.slice(-4)}`, 'i');
}

/** A string as a regular expression that matches it exactly. */
export function exactly(/** @type {string} */ text) {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}

/**
 * A person with their own browser profile and a Test Wallet holding Anvil's dev account
 * `index`, on the app's first page. The profile stays open across steps until `close`.
 * @param {import('playwright-core').Browser} browser
 * @param {import('./product.js').Product} product
 * @param {number} index
 * @param {string} name
 * @returns {Promise<Actor>}
 */
export async function openActor(browser, product, index, name) {
  const dev = devAccount(index);
  const wallet = new TestWallet({ dev, rpcUrl: product.rpcUrl, chainId: product.chainId });
  const { context, page, problems } = await openApp(browser, product.url, wallet, name);
  return { name, dev, wallet, context, page, problems };
}

/**
 * Runs one step of `actor`'s; on failure keeps a full-page screenshot of where it stopped
 * (artifacts/<actor>-<step>-failure.png). The profile stays open for the actor's next step.
 * @param {Actor} actor
 * @param {string} step
 * @param {(page: Page) => Promise<void>} does
 */
export async function as(actor, step, does) {
  try {
    await does(actor.page);
  } catch (error) {
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = path.join(ARTIFACTS, `${actor.name}-${step}-failure.png`);
    await actor.page.screenshot({ path: shot, fullPage: true }).catch(() => undefined);
    throw error;
  }
}

/** Connect wallet, the Test Wallet, Sign in (the wallet signs the EIP-4361 message). */
export async function connectAndSignIn(/** @type {Page} */ page, /** @type {string} */ address) {
  const banner = page.getByRole('banner');
  await banner.getByRole('button', { name: 'Connect wallet' }).click();
  await page.getByRole('button', { name: 'Connect Test Wallet' }).click();
  await banner.getByText(shortAddress(address)).first().waitFor();
  await banner.getByRole('button', { name: 'Sign in' }).click();
  await banner.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** A page of the main navigation, by its link's exact name. */
export async function navigate(/** @type {Page} */ page, /** @type {string} */ link) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link, exact: true }).click();
}

/** Takes `role` on the Account page. */
export async function takeRole(/** @type {Page} */ page, /** @type {string} */ role) {
  await navigate(page, 'Account');
  await page.waitForURL(/\/account$/);
  const take = page.getByRole('button', { name: `Take the ${role} role` });
  await take.click();
  await take.waitFor({ state: 'detached' });
}

/** The value shown beside a fact's name in the page's lists of facts (`.facts`). */
export function fact(/** @type {Page} */ page, /** @type {string} */ name) {
  return page
    .locator('.facts > div')
    .filter({ has: page.getByRole('term').filter({ hasText: exactly(name) }) })
    .getByRole('definition');
}

/**
 * @typedef {object} DatasetForm
 * @property {string} name
 * @property {'classes' | 'boxes' | 'spans'} type
 * @property {string[]} [classes]
 * @property {string} price in dUSD, as a person types it
 * @property {string} reward in LABEL
 * @property {string} instructions
 */

/** The label-type radio's name on the form. */
const TYPE_CHOICE = Object.freeze({
  classes: 'A class from a list',
  boxes: 'Boxes drawn on a picture',
  spans: 'Spans of a text',
});

/**
 * My datasets, Create a dataset, the form filled and sent (verified by review, overlap 1: the
 * form's defaults); returns the new dataset's id, read from the page's address.
 * @param {Page} page
 * @param {DatasetForm} form
 * @param {() => Promise<void>} [filled] runs once the form is filled, before it is sent
 */
export async function createDataset(page, form, filled) {
  await navigate(page, 'My datasets');
  await page.getByRole('link', { name: 'Create a dataset' }).click();
  await page.waitForURL(/\/buyer\/new$/);
  await page.getByRole('heading', { level: 1, name: 'New dataset' }).waitFor();
  await page.getByLabel('Name').fill(form.name);
  await page.getByRole('radio', { name: TYPE_CHOICE[form.type] }).check();
  if (form.classes) await page.getByLabel('Classes', { exact: true }).fill(form.classes.join('\n'));
  await page.getByLabel(/Price per verified label \(dUSD\)/).fill(form.price);
  await page.getByLabel(/Reward per verified label \(LABEL\)/).fill(form.reward);
  await page.getByLabel('Instructions').fill(form.instructions);
  assert.equal(await page.getByRole('radio', { name: /review/i }).first().isChecked(), true, 'verified by review');
  assert.equal(await page.getByLabel('Annotators per item').inputValue(), '1', 'overlap 1');
  await filled?.();
  await page.getByRole('button', { name: 'Create the dataset' }).click();
  await page.waitForURL(/\/buyer\/datasets\/\d+$/);
  await page.getByRole('heading', { level: 1, name: form.name }).waitFor();
  return Number(new URL(page.url()).pathname.split('/').pop());
}

/**
 * On a dataset's buyer page: funds it from the wallet (approve, then createAndFund, each
 * confirmed on chain), and waits until the page says it is open (the mirror saw the deposit).
 * @param {Page} page
 * @param {string} amount in dUSD, as typed
 */
export async function fundFromWallet(page, amount) {
  await page.getByLabel('Amount (dUSD)').fill(amount);
  await page.getByRole('button', { name: 'Fund from my wallet' }).click();
  const txs = page.getByRole('list', { name: 'Transactions' });
  await txs.getByRole('listitem').filter({ hasText: /^approve: confirmed 0x[0-9a-f]{64}$/ }).waitFor({ timeout: 30_000 });
  await txs.getByRole('listitem').filter({ hasText: /^createAndFund: confirmed 0x[0-9a-f]{64}$/ }).waitFor({ timeout: 30_000 });
  await page.getByRole('status').filter({ hasText: /Status: open/ }).waitFor({ timeout: 60_000 });
  await fact(page, 'Funded').filter({ hasText: exactly(`${amount} dUSD`) }).waitFor({ timeout: 30_000 });
}

/**
 * On a dataset's buyer page: picks `file` in the items file input; waits until the page says
 * how many items it uploaded.
 * @param {Page} page
 * @param {string} file
 * @param {number} count
 */
export async function uploadItems(page, file, count) {
  await page.getByLabel(/Items file/).setInputFiles(file);
  const items = count === 1 ? '1 item' : `${count} items`;
  await page.getByRole('status').filter({ hasText: `Uploaded ${items} from ${path.basename(file)}.` }).waitFor();
}

/** On a dataset's buyer page: appoints the reviewer at `address`. */
export async function appointReviewer(/** @type {Page} */ page, /** @type {string} */ address) {
  await page.getByLabel("Reviewer's address").fill(address);
  await page.getByRole('button', { name: 'Appoint' }).click();
  await page.getByRole('status').filter({ hasText: `Appointed in this visit: ${address}` }).waitFor();
}

/**
 * Datasets, the dataset by name, Start labelling: the workspace of dataset `name`.
 * @param {Page} page
 * @param {string} name
 * @param {() => Promise<void>} [onDatasetPage] runs on the dataset's page, once its terms show
 */
export async function openWorkspace(page, name, onDatasetPage) {
  await navigate(page, 'Datasets');
  await page.waitForURL(/\/datasets$/);
  await page.getByRole('link', { name, exact: true }).click();
  await page.getByRole('heading', { level: 1, name }).waitFor();
  const start = page.getByRole('link', { name: 'Start labelling' });
  await start.waitFor();
  await onDatasetPage?.();
  await start.click();
  await page.waitForURL(/\/datasets\/\d+\/label$/);
  await page.getByRole('heading', { level: 1, name: `Labelling ${name}` }).waitFor();
}

/** The workspace's count of labels sent in this visit, once it says `count`. */
export async function labelled(/** @type {Page} */ page, /** @type {number} */ count) {
  await page
    .getByRole('status')
    .filter({ hasText: `Labelled ${count} ${count === 1 ? 'item' : 'items'}` })
    .waitFor();
}

/**
 * Draws a box on the workspace's picture with the mouse: pressed at the picture's pixel
 * `box[0], box[1]`, dragged to `box[2], box[3]`, released. Returns the box the page then shows
 * in its corner fields, which is what Submit the box sends.
 * @param {Page} page
 * @param {string} pictureName the picture's alternative text, e.g. `Item box-01`
 * @param {readonly number[]} box [x_min, y_min, x_max, y_max] in the picture's own pixels
 */
export async function dragBox(page, pictureName, box) {
  const picture = page.getByRole('img', { name: pictureName });
  await picture.waitFor();
  await page.waitForFunction(
    (name) => {
      const img = document.querySelector(`img[alt="${name}"]`);
      return img instanceof HTMLImageElement && img.complete && img.naturalWidth > 0;
    },
    pictureName,
  );
  const natural = await picture.evaluate((element) => {
    const img = /** @type {HTMLImageElement} */ (element);
    return { width: img.naturalWidth, height: img.naturalHeight };
  });
  const shown = await picture.boundingBox();
  assert.ok(shown, `${pictureName} is on the page`);
  // The middle of each corner's pixel, where the page is.
  const at = (/** @type {number} */ x, /** @type {number} */ y) => ({
    x: shown.x + ((x + 0.5) * shown.width) / natural.width,
    y: shown.y + ((y + 0.5) * shown.height) / natural.height,
  });
  const from = at(box[0], box[1]);
  const to = at(box[2], box[3]);
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 4 });
  await page.mouse.move(to.x, to.y, { steps: 4 });
  await page.mouse.up();
  const corners = page.getByRole('group', { name: "Box corners, in the picture's pixels" });
  /** @type {number[]} */
  const drawn = [];
  for (const corner of ['x min', 'y min', 'x max', 'y max']) {
    drawn.push(Number(await corners.getByLabel(corner).inputValue()));
  }
  return drawn;
}

/**
 * Selects `part` of the workspace's text with the mouse, as a person drags across the words:
 * pressed just inside its first character, released just inside its last.
 * @param {Page} page
 * @param {string} text the item's whole text as the workspace shows it
 * @param {string} part
 */
export async function selectWithMouse(page, text, part) {
  const paragraph = page.locator('.span-text').filter({ hasText: exactly(text) });
  await paragraph.waitFor();
  const rects = await paragraph.evaluate((element, wanted) => {
    const node = element.firstChild;
    if (!node || node.nodeType !== Node.TEXT_NODE) throw new Error('the text is not one text node');
    const start = (node.textContent ?? '').indexOf(wanted);
    if (start < 0) throw new Error(`"${wanted}" is not in the text`);
    const box = (/** @type {number} */ offset) => {
      const range = document.createRange();
      range.setStart(node, offset);
      range.setEnd(node, offset + 1);
      const { left, right, top, bottom } = range.getBoundingClientRect();
      return { left, right, top, bottom };
    };
    return { first: box(start), last: box(start + wanted.length - 1) };
  }, part);
  const y = (/** @type {{ top: number, bottom: number }} */ r) => (r.top + r.bottom) / 2;
  await page.mouse.move(rects.first.left + 1, y(rects.first));
  await page.mouse.down();
  await page.mouse.move(rects.last.right - 1, y(rects.last), { steps: 8 });
  await page.mouse.up();
}

/**
 * Decides the review queue one label at a time with the keys: `decide` gets each label's item
 * id and dataset name as its heading says, and answers `accept` or a rejection's reason.
 * Returns the labels decided, in the queue's order, once the page says nothing is left.
 * @param {Page} page on /review
 * @param {string[]} datasets the names of the datasets the queue holds labels of
 * @param {(item: string, dataset: string) => Promise<{ verdict: 'accept' } | { verdict: 'reject', reason: string }>} decide
 */
export async function reviewQueue(page, datasets, decide) {
  const names = datasets.map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  const heading = page.getByRole('heading', { level: 2, name: new RegExp(`^Item (\\S+) of (${names})$`) });
  const done = page.getByText('Nothing to review now');
  /** @type {{ item: string, dataset: string, verdict: string }[]} */
  const decided = [];
  for (;;) {
    await heading.or(done).first().waitFor();
    if (await done.isVisible()) return decided;
    const match = /^Item (\S+) of (.+)$/.exec(((await heading.textContent()) ?? '').trim());
    assert.ok(match, 'the label to review names its item and dataset');
    const [, item, dataset] = match;
    const choice = await decide(item, dataset);
    if (choice.verdict === 'accept') {
      await page.keyboard.press('a');
    } else {
      await page.keyboard.press('r');
      const reason = page.getByRole('textbox', { name: 'Why reject (required)' });
      await reason.waitFor();
      await page.keyboard.type(choice.reason);
      await page.keyboard.press('Enter');
    }
    decided.push({ item, dataset, verdict: choice.verdict });
    const count = decided.length;
    await page
      .getByRole('status')
      .filter({ hasText: `Reviewed ${count} ${count === 1 ? 'label' : 'labels'}` })
      .waitFor();
  }
}

/**
 * The balances the Account page shows under "Balances on chain", as shown (e.g. `1.5 dUSD`),
 * once every one is read.
 * @param {Page} page
 */
export async function balancesShown(page) {
  await navigate(page, 'Account');
  await page.waitForURL(/\/account$/);
  await page.getByRole('heading', { level: 2, name: 'Balances on chain' }).waitFor();
  const list = page.locator('h2:text-is("Balances on chain") + ul > li');
  await page.waitForFunction(() => {
    const items = Array.from(document.querySelectorAll('h2 + ul > li')).filter(
      (li) => li.parentElement?.previousElementSibling?.textContent === 'Balances on chain',
    );
    return items.length > 0 && items.every((li) => /^\d+(\.\d+)? \S+$/.test((li.textContent ?? '').trim()));
  });
  return (await list.allTextContents()).map((text) => text.trim());
}

/**
 * Operator: Settle now, and the page's word that the epoch is accepted on chain; returns its
 * number. `pastTimelock` runs when the page says the epoch is proposed and inside the ledger's
 * timelock (it moves the dev chain's clock), and Settle now is pressed again.
 * @param {Page} page on /operator
 * @param {() => Promise<void>} pastTimelock
 */
export async function settleNow(page, pastTimelock) {
  const settle = page.getByRole('button', { name: 'Settle now' });
  const done = page.getByRole('status').filter({ hasText: /^Done: / });
  const refused = page.getByRole('alert');
  /** Presses Settle now; returns what the page then says, once it is not `before`. */
  const press = async (/** @type {string} */ before) => {
    await settle.click();
    const deadline = Date.now() + 90_000;
    for (;;) {
      assert.equal(await refused.count(), 0, `Settle now was refused: ${await refused.allTextContents()}`);
      const said = (await done.count()) > 0 ? ((await done.textContent()) ?? '').trim() : '';
      if (said !== '' && said !== before) return said;
      assert.ok(Date.now() < deadline, 'Settle now said nothing in 90 s');
      await page.waitForTimeout(250);
    }
  };
  let said = await press('');
  if (/is proposed on chain/.test(said)) {
    await pastTimelock();
    said = await press(said);
  }
  const match = /^Done: epoch (\d+) is accepted on chain: claimable\.$/.exec(said);
  assert.ok(match, `the page says the epoch is accepted on chain, not: ${said}`);
  return Number(match[1]);
}
