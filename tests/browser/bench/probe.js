// @ts-check
/**
 * What the benchmark measures inside a page, the same for both apps. `probe` runs in every
 * document before its own scripts (page.addInitScript) and keeps its findings in
 * `window.__bench`; `measureLoad` reads them from Node.
 *
 * Definitions (times in ms from the document's time origin, i.e. navigation start):
 * - drawn: the first animation frame at whose start every `ready` selector matches an element
 *   with a non-empty box (the item's text and the class controls are on screen); the frame is
 *   found by checking in requestAnimationFrame after any DOM change;
 * - interactive (TTI): once drawn, the page is watched until `quietMs` pass with no long task
 *   (PerformanceObserver 'longtask', tasks over 50 ms); TTI is the later of drawn and the end of
 *   the last long task before that quiet window;
 * - initial JavaScript: every response Chromium loaded as a script (or served as JavaScript)
 *   whose Resource Timing `responseEnd` is at or before TTI; its gzip size is the body
 *   compressed by Node's zlib at level 9, its transfer size the Resource Timing
 *   `encodedBodySize` (the bytes on the wire, compressed if the server compressed).
 * - a submitting keypress to the next item: from the keydown's `timeStamp` (Chromium's time for
 *   the input event) to the first animation frame at whose start the element named by
 *   `itemSelector` shows another item's text. Which keys submit: `submitKey` (ours: a class key,
 *   1 to 9; Label Studio's: Ctrl+Enter, after a class key has ticked the class).
 */
import { gzipSync } from 'node:zlib';

/**
 * @typedef {object} BenchState
 * @property {number | null} drawn
 * @property {[number, number][]} longTasks [start, end]
 * @property {{ at: number, before: string } | null} pendingKey
 * @property {{ key: number, heard: number, dom: number, frame: number }[]} keyTimings
 * @property {string} item
 */

/**
 * Runs in the page (self-contained: Playwright sends its source).
 * @param {{ ready: string[], itemSelector: string, submitKey: string, submitCtrl: boolean }} setup
 */
export function probe({ ready, itemSelector, submitKey, submitCtrl }) {
  /** @type {BenchState} */
  const state = { drawn: null, longTasks: [], pendingKey: null, keyTimings: [], item: '' };
  Object.defineProperty(window, '__bench', { value: state });
  performance.setResourceTimingBufferSize(10_000);
  try {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        state.longTasks.push([entry.startTime, entry.startTime + entry.duration]);
      }
    }).observe({ type: 'longtask', buffered: true });
  } catch {
    // no Long Tasks API: TTI is then the frame drawn
  }
  const shown = (/** @type {string} */ selector) => {
    const node = document.querySelector(selector);
    if (node === null) return false;
    const box = node.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  };
  const submits = new RegExp(submitKey);
  const itemText = () => {
    return (document.querySelector(itemSelector)?.textContent ?? '').trim();
  };
  let checking = false;
  const check = () => {
    checking = false;
    const now = performance.now();
    if (state.drawn === null && ready.every(shown)) state.drawn = now;
    const item = itemText();
    if (state.pendingKey !== null && item !== '' && item !== state.pendingKey.before) {
      const timing = state.keyTimings[state.keyTimings.length - 1];
      if (timing !== undefined && timing.frame < 0) timing.frame = now;
      state.pendingKey = null;
    }
    state.item = item;
  };
  new MutationObserver(() => {
    const pending = state.keyTimings[state.keyTimings.length - 1];
    if (state.pendingKey !== null && pending !== undefined && pending.dom < 0) {
      const item = itemText();
      if (item !== '' && item !== state.pendingKey.before) pending.dom = performance.now();
    }
    if (!checking) {
      checking = true;
      requestAnimationFrame(check);
    }
  }).observe(document, { childList: true, subtree: true, characterData: true, attributes: true });
  window.addEventListener(
    'keydown',
    (event) => {
      if (!submits.test(event.key) || event.ctrlKey !== submitCtrl) return;
      state.pendingKey = { at: event.timeStamp, before: itemText() };
      state.keyTimings.push({ key: event.timeStamp, heard: performance.now(), dom: -1, frame: -1 });
    },
    { capture: true },
  );
}

/** @param {number} ms */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Records every JavaScript response of `page` (call before navigating).
 * @param {import('playwright-core').Page} page
 */
export function recordScripts(page) {
  /** @type {Map<string, Promise<{ url: string, bytes: number, gzip: number, encoding: string } | null>>} */
  const scripts = new Map();
  page.on('response', (response) => {
    const type = response.headers()['content-type'] ?? '';
    if (response.request().resourceType() !== 'script' && !/javascript|ecmascript/.test(type)) return;
    const url = response.url();
    if (scripts.has(url)) return;
    scripts.set(
      url,
      response.body().then(
        (body) => ({
          url,
          bytes: body.length,
          gzip: gzipSync(body, { level: 9 }).length,
          encoding: response.headers()['content-encoding'] ?? 'identity',
        }),
        () => null, // a redirect or a failed load has no body
      ),
    );
  });
  return scripts;
}

/**
 * Waits for the page to be drawn and then quiet, and returns the load's figures.
 * @param {import('playwright-core').Page} page
 * @param {ReturnType<typeof recordScripts>} scripts
 * @param {{ quietMs: number, timeoutMs: number, what: string }} options
 */
export async function measureLoad(page, scripts, { quietMs, timeoutMs, what }) {
  try {
    await page.waitForFunction(() => /** @type {any} */ (window).__bench?.drawn != null, undefined, {
      timeout: timeoutMs,
      polling: 100,
    });
  } catch (error) {
    const shown = await page.locator('body').innerText().catch(() => '?');
    throw new Error(
      `${what} did not draw an item within ${timeoutMs / 1000}s ` +
        `(${/** @type {Error} */ (error).message.split('\n')[0]}); the page at ${page.url()} shows:\n${shown.slice(0, 800)}`,
    );
  }
  const deadline = Date.now() + timeoutMs;
  /** @type {{ now: number, drawn: number, lastEnd: number, longTasks: number, longest: number }} */
  let seen;
  for (;;) {
    seen = await page.evaluate(() => {
      const state = /** @type {any} */ (window).__bench;
      const ends = state.longTasks.map((/** @type {number[]} */ task) => task[1]);
      const spans = state.longTasks.map((/** @type {number[]} */ task) => task[1] - task[0]);
      return {
        now: performance.now(),
        drawn: state.drawn,
        lastEnd: Math.max(0, ...ends),
        longTasks: ends.length,
        longest: Math.max(0, ...spans),
      };
    });
    if (seen.now - Math.max(seen.drawn, seen.lastEnd) >= quietMs) break;
    if (Date.now() > deadline) {
      throw new Error(`${what} was never quiet for ${quietMs} ms within ${timeoutMs / 1000}s after drawing`);
    }
    await sleep(200);
  }
  const tti = Math.max(seen.drawn, seen.lastEnd);
  const timings = await page.evaluate(() =>
    performance
      .getEntriesByType('resource')
      .map((entry) => {
        const resource = /** @type {PerformanceResourceTiming} */ (entry);
        return {
          url: resource.name,
          responseEnd: resource.responseEnd,
          encoded: resource.encodedBodySize,
          transfer: resource.transferSize,
        };
      }),
  );
  const byUrl = new Map(timings.map((timing) => [timing.url, timing]));
  const files = [];
  for (const pending of scripts.values()) {
    const file = await pending;
    if (file === null) continue;
    const timing = byUrl.get(file.url);
    // A script has no Resource Timing entry only if it is the document itself (never here).
    if (timing === undefined || timing.responseEnd > tti) continue;
    files.push({ ...file, transfer: timing.encoded });
  }
  const sum = (/** @type {number[]} */ values) => values.reduce((a, b) => a + b, 0);
  return {
    drawnMs: seen.drawn,
    ttiMs: tti,
    longTasks: seen.longTasks,
    longestTaskMs: seen.longest,
    scripts: files.length,
    jsBytes: sum(files.map((file) => file.bytes)),
    jsGzip: sum(files.map((file) => file.gzip)),
    jsTransfer: sum(files.map((file) => file.transfer)),
    encodings: [...new Set(files.map((file) => file.encoding))],
    files: files.map(({ url, bytes, gzip, transfer }) => ({ url: new URL(url).pathname, bytes, gzip, transfer })),
  };
}
