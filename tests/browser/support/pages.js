// @ts-check
/**
 * The browser (Debian's headless Chromium) and what every page visited goes through: an
 * axe-core check that finds no serious or critical violation, and full-page screenshots at a
 * desktop and a phone size, kept in artifacts/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium } from 'playwright-core';
import { ARTIFACTS, CHROMIUM } from './paths.js';

export const DESKTOP = Object.freeze({ width: 1280, height: 800 });
export const PHONE = Object.freeze({ width: 390, height: 844 });
const GRAVE = new Set(['serious', 'critical']);

export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true });
}

/**
 * Looks at the page as it stands, at both sizes: screenshots first (kept even when the check
 * fails), then axe-core; fails on any serious or critical violation, naming each.
 * @param {import('playwright-core').Page} page
 * @param {string} name the page's name in artifacts/, e.g. `annotator-workspace`
 */
export async function checkPage(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const grave = [];
  for (const [size, viewport] of /** @type {const} */ ([
    ['desktop', DESKTOP],
    ['phone', PHONE],
  ])) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}-${size}.png`), fullPage: true });
    const results = await new AxeBuilder({ page }).analyze();
    writeFileSync(
      path.join(ARTIFACTS, `${name}-${size}.axe.json`),
      JSON.stringify(results.violations, null, 2),
    );
    for (const violation of results.violations) {
      if (!GRAVE.has(violation.impact ?? '')) continue;
      const where = violation.nodes.slice(0, 3).map((node) => node.target.join(' ')).join('; ');
      grave.push(`${size}: ${violation.id} (${violation.impact}) ${violation.help} at ${where}`);
    }
    const wider = await widerThanViewport(page);
    if (wider) grave.push(`${size}: the page scrolls sideways (${wider})`);
  }
  await page.setViewportSize(DESKTOP);
  assert.deepEqual(grave, [], `axe-core or the layout check found problems on ${page.url()}`);
}

/**
 * Whether the page is wider than its viewport (a phone would scroll it sideways), and if so its
 * width and the innermost elements that reach past the right edge; null when it fits. An element
 * inside its own scrolling box (a wide table in `.table-scroll`) does not widen the page.
 * @param {import('playwright-core').Page} page
 * @returns {Promise<string | null>}
 */
async function widerThanViewport(page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const scroll = document.documentElement.scrollWidth;
    if (scroll <= width + 1) return null;
    const culprits = Array.from(document.body.querySelectorAll('*'))
      .filter((el) => el.getBoundingClientRect().right > width + 1)
      .filter((el) => !Array.from(el.children).some((c) => c.getBoundingClientRect().right > width + 1))
      .slice(0, 3)
      .map((el) => {
        const id = el.id ? `#${el.id}` : '';
        const cls = el.classList.length ? `.${Array.from(el.classList).join('.')}` : '';
        const text = (el.textContent ?? '').trim().slice(0, 40);
        return `<${el.tagName.toLowerCase()}${id}${cls}> "${text}"`;
      });
    return `${scroll}px in a ${width}px viewport; past the edge: ${culprits.join(', ')}`;
  });
}

/**
 * A fresh browser profile at desktop size with `wallet` injected, on the app's first page. The
 * page's errors and console errors are kept in artifacts/<name>-console.log when it closes.
 * @param {import('playwright-core').Browser} browser
 * @param {string} url the app's URL (a started product's `url`)
 * @param {import('./wallet.js').TestWallet} wallet
 * @param {string} name names its console log in artifacts/
 */
export async function openApp(browser, url, wallet, name) {
  const context = await browser.newContext({ viewport: DESKTOP });
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  /** @type {string[]} */
  const problems = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('close', () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(path.join(ARTIFACTS, `${name}-console.log`), problems.join('\n'));
  });
  await wallet.install(page);
  await page.goto(`${url}/`);
  return { context, page, problems };
}

/**
 * Runs a story's steps on `page`, then closes its profile; on failure keeps a full-page
 * screenshot of where it stopped (artifacts/<name>-failure.png).
 * @param {import('playwright-core').BrowserContext} context
 * @param {import('playwright-core').Page} page
 * @param {string} name
 * @param {() => Promise<void>} steps
 */
export async function story(context, page, name, steps) {
  try {
    await steps();
  } catch (error) {
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = path.join(ARTIFACTS, `${name}-failure.png`);
    await page.screenshot({ path: shot, fullPage: true }).catch(() => undefined);
    throw error;
  } finally {
    await context.close();
  }
}
