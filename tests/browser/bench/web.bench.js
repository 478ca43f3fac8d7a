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
 * Progress goes to stderr; the table (or with --json, every figure) to stdout.
 */
import { parseArgs } from 'node:util';
import { devAccount, PARTS } from '../support/accounts.js';
import { DESKTOP, launchBrowser, openApp } from '../support/pages.js';
import { startProduct } from '../support/product.js';
import { ApiUser, seedClassesDataset } from '../support/seed.js';
import { TestWallet } from '../support/wallet.js';
import { labelStudioCookies, seedLabelStudio, startLabelStudio } from './labelstudio.js';
import { measureLoad, probe, recordScripts, sleep } from './probe.js';

const USAGE = `Usage: scripts/bench-web [--json] [--items N] [--labels N] [--loads N] [--quiet-ms MS]
                        [--skip-label-studio]

  --items N              texts in the dataset and the Label Studio project (default 240)
  --labels N             labels by key press in our workspace (default 200)
  --loads N              cold loads of each app's labelling page, interleaved (default 3)
  --quiet-ms MS          the quiet window that ends a load: no long task for MS (default 2000)
  --skip-label-studio    measure ours only
  --json                 every figure as JSON on stdout`;

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
      });
      return { context, page };
    }

    ls = await lsStarting;
    /** @type {{ url: string, cookies: any[] } | null} */
    let lsTarget = null;
    if (ls !== null) {
      try {
        say('Label Studio: a project with the same texts and classes, through its REST API');
        const project = await seedLabelStudio(ls.url, { title: 'Bench: which animal?', classes: CLASSES, texts: corpus });
        const cookies = await labelStudioCookies(browser, ls.url);
        lsTarget = { url: `${ls.url}/projects/${project.id}/data?labeling=1`, cookies };
      } catch (error) {
        lsUnavailable = `Label Studio started but could not be set up: ${/** @type {Error} */ (error).message}`;
      }
    }
    if (lsUnavailable !== null) say(lsUnavailable);

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
        ours.push(await measureLoad(page, scripts, { quietMs, timeoutMs: 60_000, what: 'our workspace' }));
        await context.close();
      }
      if (lsTarget !== null) {
        say(`cold load ${round}/${loads}: Label Studio's labelling page`);
        const context = await browser.newContext({ viewport: DESKTOP });
        context.setDefaultTimeout(60_000);
        await context.addCookies(lsTarget.cookies);
        const page = await context.newPage();
        await page.addInitScript(probe, {
          ready: ['.lsf-richtext, .htx-richtext', '.lsf-choices, .ant-checkbox-group, .ant-radio-group'],
          itemSelector: null,
        });
        const scripts = recordScripts(page);
        try {
          await page.goto(lsTarget.url);
          theirs.push(await measureLoad(page, scripts, { quietMs, timeoutMs: 120_000, what: "Label Studio's labelling page" }));
        } catch (error) {
          await page.screenshot({ path: 'tests/browser/artifacts/bench-web-label-studio-failure.png' }).catch(() => {});
          lsUnavailable = `Label Studio's labelling page: ${/** @type {Error} */ (error).message}`;
          lsTarget = null;
          say(lsUnavailable);
        }
        await context.close();
      }
    }

    say(`our workspace: ${labels} labels, one class key each`);
    const keys = await labelByKeys(ourPage, workspaceUrl, labels);

    const ourLoad = summariseLoads(ours);
    const theirLoad = theirs.length > 0 ? summariseLoads(theirs) : null;
    const result = {
      machine: { cores: (await import('node:os')).cpus().length, load: (await import('node:os')).loadavg(), chromium: browser.version() },
      labelStudio: ls === null ? null : { version: ls.version },
      labelStudioUnavailable: lsUnavailable,
      items,
      loads,
      quietMs,
      ours: ourLoad,
      labelStudio_: theirLoad,
      keypress: keys,
      goals: GOALS,
      seconds: Math.round((Date.now() - started) / 1000),
    };
    if (options.json) {
      const { labelStudio_, ...rest } = result;
      process.stdout.write(`${JSON.stringify({ ...rest, labelStudioLoad: labelStudio_ }, null, 2)}\n`);
    } else {
      printTable(result);
    }
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
 * Presses a class key `count` times in a freshly opened workspace, each once the previous next
 * item is drawn, and returns keydown -> next item drawn.
 * @param {() => Promise<{ context: import('playwright-core').BrowserContext, page: import('playwright-core').Page }>} open
 * @param {string} url the workspace
 * @param {number} count
 */
async function labelByKeys(open, url, count) {
  const { context, page } = await open();
  try {
    await page.goto(url);
    await page.waitForFunction(() => /** @type {any} */ (window).__bench?.drawn != null);
    await sleep(500);
    for (let index = 0; index < count; index += 1) {
      await page.keyboard.press(String((index % 3) + 1));
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
        const shown = await page.locator('main').innerText().catch(() => '?');
        throw new Error(`label ${index + 1}: no next item drawn 15s after the key; the page shows:\n${shown.slice(0, 600)}`);
      }
      // The workspace binds its keys to the item in hand after drawing it (a React effect).
      await sleep(20);
      if ((index + 1) % 50 === 0) say(`  ${index + 1}/${count} labels`);
    }
    const status = await page.getByRole('status').filter({ hasText: /^Labelled \d+ items?$/ }).innerText();
    if (status !== `Labelled ${count} items`) throw new Error(`the workspace says "${status}" after ${count} keys`);
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

/** @param {any} result */
function printTable(result) {
  const kb = (/** @type {number} */ bytes) => `${(bytes / 1000).toFixed(1)} kB`;
  const ms = (/** @type {number} */ value) => `${Math.round(value)} ms`;
  const ours = result.ours;
  const theirs = result.labelStudio_;
  const na = theirs === null ? 'n/a' : null;
  const rows = [
    ['initial JS, gzip -9 (kB)', kb(ours.jsGzip), na ?? kb(theirs.jsGzip), `<= ${GOALS.jsGzipKb} kB`, ours.jsGzip / 1000 <= GOALS.jsGzipKb ? 'yes' : 'NO'],
    ['initial JS, as sent (transfer)', kb(ours.jsTransfer), na ?? kb(theirs.jsTransfer), '', ''],
    ['initial JS, uncompressed', `${kb(ours.jsBytes)} (${ours.scripts} files)`, na ?? `${kb(theirs.jsBytes)} (${theirs.scripts} files)`, '', ''],
    ['first item drawn, median', ms(ours.drawnMs), na ?? ms(theirs.drawnMs), '', ''],
    ['time to interactive, median', ms(ours.ttiMs), na ?? ms(theirs.ttiMs), '', ''],
    ['  every load', ours.ttiEveryLoad.join(' / '), na ?? theirs.ttiEveryLoad.join(' / '), '', ''],
    [`key -> next item drawn, p50 (${result.keypress.count})`, ms(result.keypress.p50), 'n/a', '', ''],
    ['key -> next item drawn, p95', ms(result.keypress.p95), 'n/a', `<= ${GOALS.keyP95Ms} ms`, result.keypress.p95 <= GOALS.keyP95Ms ? 'yes' : 'NO'],
    ['key -> next item drawn, max', ms(result.keypress.max), 'n/a', '', ''],
  ];
  const header = ['figure', 'ours', `Label Studio ${result.labelStudio?.version ?? ''}`.trim(), 'goal', 'met?'];
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((row) => String(row[column]).length)));
  const line = (/** @type {string[]} */ row) => row.map((cell, column) => String(cell).padEnd(widths[column])).join('  ');
  const out = [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)];
  if (result.labelStudioUnavailable) out.push('', `Label Studio: ${result.labelStudioUnavailable}`);
  out.push('', `${result.loads} cold loads each, interleaved; ${result.seconds}s in all; load average ${result.machine.load.map((/** @type {number} */ n) => n.toFixed(1)).join(' ')}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main().then(
  (code) => process.exit(code),
  (error) => {
    say(`failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    process.exit(3);
  },
);
