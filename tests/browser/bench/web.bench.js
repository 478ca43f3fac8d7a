// @ts-check
/**
 * The annotator's workspace against Label Studio's labelling front end, in one run of Debian's
 * headless Chromium (issue 13). Run it with ./scripts/bench-web (--help for options).
 *
 * 1. A real `label-ledger up --fresh` with a classes dataset of --items texts, funded on its
 *    Anvil; an annotator connects the Test Wallet and signs in through the page once.
 * 2. Label Studio (cache/label-studio/venv) with a project of the same texts and classes.
 * 3. --loads cold loads of each labelling page, interleaved (ours, then Label Studio's), each in
 *    a fresh browser profile (empty HTTP cache) that carries only the sign-in: our session in
 *    sessionStorage and wagmi's reconnect note in localStorage; Label Studio's session cookie.
 *    Per load: the initial JavaScript and the time to interactive (definitions: probe.js).
 * 4. --labels labels in our workspace, each by pressing a class key, timed from the keydown to
 *    the frame that draws the next item.
 *
 * Progress goes to stderr; the table (or with --json, every figure) to stdout. These files are
 * type-checked by `npx tsc -p bench` in tests/browser (bench/tsconfig.json).
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { devAccount, PARTS } from '../support/accounts.js';
import { DESKTOP, launchBrowser, openApp } from '../support/pages.js';
import { ARTIFACTS } from '../support/paths.js';
import { startProduct } from '../support/product.js';
import { ApiUser, seedClassesDataset } from '../support/seed.js';
import { TestWallet } from '../support/wallet.js';
import { labelStudioCookies, lsApi, seedLabelStudio, startLabelStudio } from './labelstudio.js';
import { measureLoad, probe, recordScripts, sleep } from './probe.js';

const USAGE = `Usage: scripts/bench-web [--json] [--items N] [--labels N] [--loads N] [--quiet-ms MS]
                        [--skip-label-studio]

  --items N              texts in the dataset and the Label Studio project (default 240)
  --labels N             labels by key in each app, one at a time (default 200)
  --loads N              cold loads of each app's labelling page, interleaved (default 3)
  --quiet-ms MS          the quiet window that ends a load: no long task for MS (default 2000)
  --skip-label-studio    measure ours only
  --json                 every figure as JSON on stdout (the table goes to stderr)

Exit status: 0 when both goals are met, 1 when one is missed, 2 on bad arguments, 3 when the
benchmark could not run (the message says why). Label Studio failing to install or start is not
a failure: our figures are reported with the reason.`;

/** Label Studio's labelling page: the task's text, and its choices (checkboxes with hints). */
const LS_PROBE = Object.freeze({
  ready: ['.lsf-richtext .lsf-richtext__line', '.lsf-choices .ant-checkbox-input'],
  itemSelector: '.lsf-richtext',
  submitKey: '^Enter$',
  submitCtrl: true,
});
const GOALS = Object.freeze({ jsGzipKb: 300, keyP95Ms: 150 });
const CLASSES = ['cat', 'dog', 'bird'];
const ANIMALS = { cat: ['tabby', 'kitten', 'cat'], dog: ['puppy', 'retriever', 'terrier'], bird: ['robin', 'sparrow', 'heron'] };
const DOINGS = ['sleeps by the stove', 'waits at the door', 'watches the rain', 'plays in the garden',
  'eats its breakfast', 'hides under the bench', 'sits on the wall', 'runs across the yard'];

/** Texts to classify, each different, cycling through the classes. @param {number} count */
function texts(count) {
  return Array.from({ length: count }, (_, index) => {
    const kind = /** @type {keyof typeof ANIMALS} */ (CLASSES[index % 3]);
    const animal = ANIMALS[kind][Math.floor(index / 3) % 3];
    return `Sentence ${index + 1}: the ${animal} ${DOINGS[Math.floor(index / 9) % DOINGS.length]}.`;
  });
}

const say = (/** @type {string} */ message) =>
  process.stderr.write(`[bench-web ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

/** @param {number[]} values @param {number} q */
function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}
const median = (/** @type {number[]} */ values) => quantile(values, 0.5);

async function main() {
  const { values: options } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      items: { type: 'string', default: '240' },
      labels: { type: 'string', default: '200' },
      loads: { type: 'string', default: '3' },
      'quiet-ms': { type: 'string', default: '2000' },
      'skip-label-studio': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const items = Number(options.items);
  const labels = Number(options.labels);
  const loads = Number(options.loads);
  const quietMs = Number(options['quiet-ms']);
  if (![items, labels, loads, quietMs].every((n) => Number.isInteger(n) && n > 0) || labels + loads + 2 > items) {
    process.stderr.write(`${USAGE}\n\n--items must exceed --labels + --loads + 1, all positive integers\n`);
    return 2;
  }
  const started = Date.now();
  const corpus = texts(items);
  /** @type {string | null} */
  let lsUnavailable = options['skip-label-studio'] ? 'skipped (--skip-label-studio)' : process.env.BENCH_WEB_LS_UNAVAILABLE || null;

  /** @type {Awaited<ReturnType<typeof startLabelStudio>> | null} */
  let ls = null;
  /** @type {Promise<Awaited<ReturnType<typeof startLabelStudio>> | null>} */
  const lsStarting =
    lsUnavailable === null
      ? startLabelStudio(say).catch((error) => {
          lsUnavailable = `Label Studio did not start: ${error.message}`;
          return null;
        })
      : Promise.resolve(null);
  if (lsUnavailable === null) say('starting Label Studio and label-ledger up side by side');

  say('starting label-ledger up --fresh (its own Anvil, contracts and SQLite)');
  const product = await startProduct({ name: 'bench-web' });
  /** @type {import('playwright-core').Browser | null} */
  let browser = null;
  try {
    const home = await fetch(`${product.url}/`);
    if (!home.ok || !(home.headers.get('content-type') ?? '').startsWith('text/html')) {
      throw new Error(`GET / answered ${home.status}, not the web app: build it (npm run build --prefix web)`);
    }
    say(`up answers at ${product.url}; seeding a classes dataset of ${items} texts and funding it on chain`);
    const { dataset } = await seedClassesDataset(product, devAccount(PARTS.buyer), {
      name: 'Bench: which animal?',
      classes: CLASSES,
      items: corpus.map((text, index) => /** @type {const} */ ([`bench-${String(index + 1).padStart(4, '0')}`, text])),
      instructions: 'Pick the animal the sentence is about.',
    });

    const chromium = await launchBrowser();
    browser = chromium;
    say(`Chromium ${browser.version()}; the annotator connects the Test Wallet and signs in through the page`);
    const dev = devAccount(PARTS.annotator);
    const wallet = new TestWallet({ dev, rpcUrl: product.rpcUrl, chainId: product.chainId });
    const signIn = await openApp(browser, product.url, wallet, 'bench-web-sign-in');
    const banner = signIn.page.getByRole('banner');
    await banner.getByRole('button', { name: 'Connect wallet' }).click();
    await signIn.page.getByRole('button', { name: 'Connect Test Wallet' }).click();
    await banner.getByRole('button', { name: 'Sign in' }).click();
    await banner.getByRole('button', { name: 'Sign out' }).waitFor();
    const stored = await signIn.page.evaluate(() => ({
      session: { ...sessionStorage },
      local: Object.entries({ ...localStorage }).map(([name, value]) => ({ name, value })),
    }));
    await signIn.context.close();
    const sessionJson = stored.session['label-ledger.session'];
    if (!sessionJson) throw new Error('signing in through the page left no session in sessionStorage');
    const annotator = new ApiUser(product.url, dev);
    annotator.token = JSON.parse(sessionJson).token;
    await annotator.post('/v1/me/roles', { role: 'annotator' });
    const workspaceUrl = `${product.url}/datasets/${dataset.id}/label`;

    /** A fresh profile on our workspace: nothing cached, only the sign-in carried over. */
    async function ourPage() {
      const context = await chromium.newContext({
        viewport: DESKTOP,
        storageState: { cookies: [], origins: [{ origin: product.url, localStorage: stored.local }] },
      });
      context.setDefaultTimeout(30_000);
      const page = await context.newPage();
      await wallet.install(page);
      await page.addInitScript((entries) => {
        for (const [key, value] of Object.entries(entries)) sessionStorage.setItem(key, value);
      }, stored.session);
      await page.addInitScript(probe, {
        ready: ['.item-frame .item-text', '[role="group"][aria-label="Classes"] button'],
        itemSelector: '.item-frame .item-id',
        submitKey: '^[1-9]$',
        submitCtrl: false,
      });
      return { context, page };
    }

    ls = await lsStarting;
    /** @type {{ url: string, project: number, cookies: any[] } | null} */
    let lsTarget = null;
    if (ls !== null) {
      try {
        say('Label Studio: a project with the same texts and classes, through its REST API');
        const project = await seedLabelStudio(ls.url, { title: 'Bench: which animal?', classes: CLASSES, texts: corpus });
        const cookies = await labelStudioCookies(chromium, ls.url);
        lsTarget = { url: `${ls.url}/projects/${project.id}/data?labeling=1`, project: project.id, cookies };
      } catch (error) {
        lsUnavailable = `Label Studio started but could not be set up: ${/** @type {Error} */ (error).message}`;
      }
    }
    if (lsUnavailable !== null) say(lsUnavailable);

    /** A fresh profile on Label Studio's labelling page: nothing cached but its session cookie. */
    async function theirPage() {
      if (lsTarget === null) throw new Error('no Label Studio');
      const context = await chromium.newContext({ viewport: DESKTOP });
      context.setDefaultTimeout(60_000);
      await context.addCookies(lsTarget.cookies);
      const page = await context.newPage();
      await page.addInitScript(probe, LS_PROBE);
      return { context, page };
    }

    /** @type {Awaited<ReturnType<typeof measureLoad>>[]} */
    const ours = [];
    /** @type {Awaited<ReturnType<typeof measureLoad>>[]} */
    const theirs = [];
    for (let round = 1; round <= loads; round += 1) {
      say(`cold load ${round}/${loads}: our workspace`);
      {
        const { context, page } = await ourPage();
        const scripts = recordScripts(page);
        await page.goto(workspaceUrl);
        const load = await measureLoad(page, scripts, { quietMs, timeoutMs: 60_000, what: 'our workspace' });
        await page.screenshot({ path: path.join(ARTIFACTS, 'bench-web-ours.png') });
        // Interactive means the class keys work: the first key labels the item and draws the next.
        await page.keyboard.press('1');
        await page.getByRole('status').filter({ hasText: 'Labelled 1 item' }).waitFor({ timeout: 5_000 });
        ours.push(load);
        await context.close();
      }
      if (lsTarget !== null) {
        say(`cold load ${round}/${loads}: Label Studio's labelling page`);
        const { context, page } = await theirPage();
        const scripts = recordScripts(page);
        try {
          await page.goto(lsTarget.url);
          const load = await measureLoad(page, scripts, { quietMs, timeoutMs: 120_000, what: "Label Studio's labelling page" });
          await page.screenshot({ path: path.join(ARTIFACTS, 'bench-web-label-studio.png') });
          // Its class keys work: key 1 ticks the first class (nothing is submitted).
          await page.keyboard.press('1');
          await page.locator('.lsf-choices .ant-checkbox-input:checked').waitFor({ timeout: 5_000 });
          theirs.push(load);
        } catch (error) {
          await page.screenshot({ path: path.join(ARTIFACTS, 'bench-web-label-studio-failure.png') }).catch(() => {});
          lsUnavailable = `Label Studio's labelling page: ${/** @type {Error} */ (error).message}`;
          lsTarget = null;
          say(lsUnavailable);
        }
        await context.close();
      }
    }

    say(`our workspace: ${labels} labels, each by one class key`);
    const keys = await timeSubmits(ourPage, workspaceUrl, labels, 'our workspace', async (page, index) => {
      await page.keyboard.press(String((index % 3) + 1));
    });
    /** @type {Awaited<ReturnType<typeof timeSubmits>> | null} */
    let theirKeys = null;
    if (lsTarget !== null) {
      say(`Label Studio: ${labels} labels, each by a class key then Ctrl+Enter (its submit key)`);
      try {
        theirKeys = await timeSubmits(theirPage, lsTarget.url, labels, "Label Studio's labelling page", async (page, index) => {
          await page.keyboard.press(String((index % 3) + 1));
          await page.locator('.lsf-choices .ant-checkbox-input:checked').waitFor({ timeout: 5_000 });
          await page.keyboard.press('Control+Enter');
        });
        const project = await lsApi(new URL(lsTarget.url).origin, 'GET', `/api/projects/${lsTarget.project}`);
        if (project.total_annotations_number < labels) {
          throw new Error(`Label Studio holds ${project.total_annotations_number} annotations after ${labels} submits`);
        }
      } catch (error) {
        lsUnavailable = `Label Studio's labelling by keys: ${/** @type {Error} */ (error).message}`;
        say(lsUnavailable);
      }
    }

    if (ls !== null && lsTarget !== null) {
      // Its data folder is kept between runs (its user, its migrations): not the runs' projects.
      await lsApi(ls.url, 'DELETE', `/api/projects/${lsTarget.project}`).catch(() => undefined);
    }
    const ourLoad = summariseLoads(ours);
    const theirLoad = theirs.length > 0 ? summariseLoads(theirs) : null;
    const result = {
      machine: { cores: os.cpus().length, loadAverage: os.loadavg(), chromium: chromium.version() },
      labelStudioVersion: ls?.version ?? null,
      labelStudioUnavailable: lsUnavailable,
      items,
      loads,
      quietMs,
      ours: { load: ourLoad, keyToNext: keys },
      labelStudio: theirLoad === null ? null : { load: theirLoad, keyToNext: theirKeys },
      goals: GOALS,
      seconds: Math.round((Date.now() - started) / 1000),
    };
    if (options.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    printTable(result, options.json ? process.stderr : process.stdout);
    const met = ourLoad.jsGzip / 1000 <= GOALS.jsGzipKb && keys.p95 <= GOALS.keyP95Ms;
    return met ? 0 : 1;
  } finally {
    await browser?.close();
    await product.stop();
    await (ls ?? (await lsStarting))?.stop();
  }
}

/**
 * @param {Awaited<ReturnType<typeof measureLoad>>[]} runs
 */
function summariseLoads(runs) {
  return {
    jsGzip: runs[0].jsGzip,
    jsBytes: runs[0].jsBytes,
    jsTransfer: runs[0].jsTransfer,
    scripts: runs[0].scripts,
    encodings: runs[0].encodings,
    jsGzipEveryLoad: runs.map((run) => run.jsGzip),
    drawnMs: median(runs.map((run) => run.drawnMs)),
    ttiMs: median(runs.map((run) => run.ttiMs)),
    ttiEveryLoad: runs.map((run) => Math.round(run.ttiMs)),
    drawnEveryLoad: runs.map((run) => Math.round(run.drawnMs)),
    longTasksEveryLoad: runs.map((run) => run.longTasks),
    longestTaskMs: Math.max(...runs.map((run) => run.longestTaskMs)),
    files: runs[0].files,
  };
}

/**
 * Labels `count` items in a freshly opened labelling page, one at a time: `label` presses the
 * keys of one label, and the next label starts once the next item is drawn. Returns the
 * submitting keydown -> next item drawn (probe.js), in ms.
 * @param {() => Promise<{ context: import('playwright-core').BrowserContext, page: import('playwright-core').Page }>} open
 * @param {string} url the labelling page
 * @param {number} count
 * @param {string} what
 * @param {(page: import('playwright-core').Page, index: number) => Promise<void>} label
 */
async function timeSubmits(open, url, count, what, label) {
  const { context, page } = await open();
  try {
    await page.goto(url);
    await page.waitForFunction(() => /** @type {any} */ (window).__bench?.drawn != null, undefined, { timeout: 120_000 });
    await sleep(1000);
    for (let index = 0; index < count; index += 1) {
      await label(page, index);
      try {
        await page.waitForFunction(
          (n) => {
            const timings = /** @type {any} */ (window).__bench.keyTimings;
            return timings.length === n && timings[n - 1].frame >= 0;
          },
          index + 1,
          { timeout: 15_000, polling: 'raf' },
        );
      } catch {
        const shown = await page.locator('body').innerText().catch(() => '?');
        throw new Error(`${what}, label ${index + 1}: no next item drawn 15s after the key; the page shows:\n${shown.slice(0, 600)}`);
      }
      // Both apps bind their keys to the item in hand after drawing it.
      await sleep(50);
      if ((index + 1) % 50 === 0) say(`  ${index + 1}/${count} labels`);
    }
    if (what === 'our workspace') {
      const status = await page.getByRole('status').filter({ hasText: /^Labelled \d+ items?$/ }).innerText();
      if (status !== `Labelled ${count} items`) throw new Error(`the workspace says "${status}" after ${count} keys`);
    }
    /** @type {{ key: number, heard: number, dom: number, frame: number }[]} */
    const timings = await page.evaluate(() => /** @type {any} */ (window).__bench.keyTimings);
    const drawn = timings.map((timing) => timing.frame - timing.key);
    const dom = timings.map((timing) => timing.dom - timing.key);
    const round = (/** @type {number} */ value) => Math.round(value * 10) / 10;
    return {
      count,
      p50: round(quantile(drawn, 0.5)),
      p95: round(quantile(drawn, 0.95)),
      max: round(Math.max(...drawn)),
      domP50: round(quantile(dom, 0.5)),
      domP95: round(quantile(dom, 0.95)),
      heardP95: round(quantile(timings.map((timing) => timing.heard - timing.key), 0.95)),
    };
  } finally {
    await context.close();
  }
}

/**
 * @param {any} result
 * @param {NodeJS.WritableStream} stream
 */
function printTable(result, stream) {
  const kb = (/** @type {number} */ bytes) => `${(bytes / 1000).toFixed(1)} kB`;
  const ms = (/** @type {number} */ value) => `${Math.round(value)} ms`;
  const ours = result.ours.load;
  const ourKeys = result.ours.keyToNext;
  const theirs = result.labelStudio?.load ?? null;
  const theirKeys = result.labelStudio?.keyToNext ?? null;
  /** @param {(load: any) => string} show */
  const their = (show) => (theirs === null ? 'n/a' : show(theirs));
  /** @param {(keys: any) => string} show */
  const theirKey = (show) => (theirKeys === null ? 'n/a' : show(theirKeys));
  const met = (/** @type {boolean} */ yes) => (yes ? 'yes' : 'NO');
  const rows = [
    ['initial JS, gzip -9', kb(ours.jsGzip), their((load) => kb(load.jsGzip)), `<= ${GOALS.jsGzipKb} kB`, met(ours.jsGzip / 1000 <= GOALS.jsGzipKb)],
    ['initial JS, as sent', kb(ours.jsTransfer), their((load) => kb(load.jsTransfer)), '', ''],
    ['initial JS, uncompressed', `${kb(ours.jsBytes)} (${ours.scripts} files)`, their((load) => `${kb(load.jsBytes)} (${load.scripts} files)`), '', ''],
    ['first item drawn, median', ms(ours.drawnMs), their((load) => ms(load.drawnMs)), '', ''],
    ['time to interactive, median', ms(ours.ttiMs), their((load) => ms(load.ttiMs)), '', ''],
    ['  each cold load (ms)', ours.ttiEveryLoad.join(' / '), their((load) => load.ttiEveryLoad.join(' / ')), '', ''],
    [`submit key -> next item, p50`, ms(ourKeys.p50), theirKey((keys) => ms(keys.p50)), '', ''],
    [`submit key -> next item, p95`, ms(ourKeys.p95), theirKey((keys) => ms(keys.p95)), `<= ${GOALS.keyP95Ms} ms`, met(ourKeys.p95 <= GOALS.keyP95Ms)],
    [`submit key -> next item, max`, ms(ourKeys.max), theirKey((keys) => ms(keys.max)), '', ''],
  ];
  const header = ['figure', 'ours', `Label Studio ${result.labelStudioVersion ?? ''}`.trim(), 'goal', 'met?'];
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((row) => String(row[column]).length)));
  const line = (/** @type {string[]} */ row) => row.map((cell, column) => String(cell).padEnd(widths[column])).join('  ').trimEnd();
  const out = [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)];
  out.push(
    '',
    `${result.loads} cold loads of each page, interleaved; ${ourKeys.count} labels in each app ` +
      '(ours: a class key; Label Studio: a class key, then Ctrl+Enter, timed from the Ctrl+Enter).',
    `${result.seconds}s in all; ${result.machine.cores} cores, load average ` +
      `${result.machine.loadAverage.map((/** @type {number} */ n) => n.toFixed(1)).join(' ')} at the end; ` +
      `Chromium ${result.machine.chromium}.`,
  );
  if (result.labelStudioUnavailable) out.push('', `Label Studio: ${result.labelStudioUnavailable}`);
  stream.write(`${out.join('\n')}\n`);
}

main().then(
  (code) => process.exit(code),
  (error) => {
    say(`failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    process.exit(3);
  },
);
