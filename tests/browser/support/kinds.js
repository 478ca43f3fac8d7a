// @ts-check
/**
 * What the browser tests of the label kinds' widgets share: the repository's Python (the media's
 * truth, the kinds' own similarity), a funded one-item dataset of a kind with an annotator's page
 * on its workspace, the label as the buyer then downloads it, and a mouse drag.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { devAccount, PARTS } from './accounts.js';
import { openApp } from './pages.js';
import { REPO_ROOT } from './paths.js';
import { ApiUser, seedKindDataset } from './seed.js';
import { connectAndSignIn } from './steps.js';
import { TestWallet } from './wallet.js';

/** @typedef {import('playwright-core').Page} Page */

const PYTHON = path.join(REPO_ROOT, '.venv', 'bin', 'python');

/**
 * Runs `code` in the repository's Python with `args` (and `input` on its standard input), and
 * parses what it prints as JSON.
 * @param {string} code
 * @param {string[]} [args]
 * @param {string} [input]
 */
export function python(code, args = [], input = '') {
  return JSON.parse(execFileSync(PYTHON, ['-c', code, ...args], { cwd: REPO_ROOT, encoding: 'utf8', input }));
}

/**
 * The kind's similarity of two labels (ledger/kinds), as the service judges agreement.
 * @param {string} kind
 * @param {unknown} a
 * @param {unknown} b
 * @param {string[]} classes
 * @returns {number}
 */
export function similarity(kind, a, b, classes) {
  return python(
    'import json, sys\nfrom ledger.kinds import kind_named\n' +
      'k = kind_named(sys.argv[1]); c = json.loads(sys.argv[4])\n' +
      'read = lambda v: k.parse(v, classes=c, where="test")\n' +
      'print(json.dumps(k.similarity(read(sys.argv[2]), read(sys.argv[3]))))',
    [kind, JSON.stringify(a), JSON.stringify(b), JSON.stringify(classes)],
  );
}

/**
 * A funded dataset of `labelType` with one item (`<labelType>-1`, its `data`), and the
 * annotator's page on its workspace, signed in through the app.
 * @param {import('./product.js').Product} product
 * @param {import('playwright-core').Browser} browser
 * @param {{ name: string, labelType: string, classes: string[], data: unknown,
 *   instructions: string, artifact: string }} spec
 */
export async function kindWorkspace(product, browser, { name, labelType, classes, data, instructions, artifact }) {
  const seeded = await seedKindDataset(product, devAccount(PARTS.buyer), {
    name,
    labelType,
    classes,
    items: [{ id: `${labelType}-1`, data }],
    instructions,
  });
  const dev = devAccount(PARTS.annotator);
  await new ApiUser(product.url, dev).signIn('annotator');
  const wallet = new TestWallet({ dev, rpcUrl: product.rpcUrl, chainId: product.chainId });
  const { context, page, problems } = await openApp(browser, product.url, wallet, artifact);
  await connectAndSignIn(page, dev.address);
  await page.goto(`${product.url}/datasets/${seeded.dataset.id}/label`);
  await page.getByRole('heading', { level: 1, name: `Labelling ${name}` }).waitFor();
  return { seeded, context, page, problems };
}

/**
 * The one label the buyer finds pending on the dataset, as its kind's JSON (`answer`).
 * @param {{ buyer: ApiUser, dataset: any }} seeded
 */
export async function storedAnswer(seeded) {
  const labels = await seeded.buyer.get(`/v1/datasets/${seeded.dataset.id}/labels?status=pending`);
  assert.equal(labels.length, 1, 'one label stored');
  return labels[0].answer;
}

/**
 * Presses at `from`, drags through the middle to `to`, releases.
 * @param {Page} page
 * @param {{ x: number, y: number }} from
 * @param {{ x: number, y: number }} to
 */
export async function drag(page, from, to) {
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 4 });
  await page.mouse.move(to.x, to.y, { steps: 4 });
  await page.mouse.up();
}
