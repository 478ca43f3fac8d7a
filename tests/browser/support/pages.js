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
  }
  await page.setViewportSize(DESKTOP);
  assert.deepEqual(grave, [], `axe-core found serious or critical violations on ${page.url()}`);
}
