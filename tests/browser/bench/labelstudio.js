// @ts-check
/**
 * Label Studio, the baseline: its `label-studio` package from PyPI (scripts/bench-web installs it
 * into cache/label-studio/venv), started on a free port with its own data folder under
 * cache/label-studio/, in its own process group, stopped with it. A project with a
 * text-classification config and tasks is made through its REST API with the user's token.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../support/product.js';
import { ARTIFACTS, REPO_ROOT } from '../support/paths.js';

export const LS_HOME = path.join(REPO_ROOT, 'cache', 'label-studio');
export const LS_BIN = path.join(LS_HOME, 'venv', 'bin', 'label-studio');
const STARTUP_SECONDS = 600;

/** Its user: made at start with these (the data folder is kept, so the user is too). */
export const LS_USER = Object.freeze({
  email: 'bench@label-ledger.test',
  password: 'bench-web-password',
  // 40 hex digits, the form of Label Studio's own API tokens.
  token: 'b3c1d0e5a4f6978e2d1c0b9a8f7e6d5c4b3a2918',
});

/**
 * A text-classification config whose classes get the keys 1, 2, 3 (Label Studio gives a choice
 * the hotkey of its place when none is set).
 * @param {string[]} classes
 */
export function classificationConfig(classes) {
  const choices = classes.map((value, index) => `    <Choice value="${value}" hotkey="${index + 1}"/>`).join('\n');
  return `<View>
  <Text name="text" value="$text"/>
  <Choices name="label" toName="text" choice="single" showInline="true">
${choices}
  </Choices>
</View>`;
}

/** @type {Set<number>} process groups to stop at exit */
const running = new Set();
process.on('exit', () => {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

/**
 * Starts `label-studio start` and waits until it answers /health.
 * @param {(message: string) => void} say progress
 */
export async function startLabelStudio(say) {
  if (!existsSync(LS_BIN)) {
    throw new Error(`${LS_BIN} is missing: run ./scripts/bench-web, which installs it`);
  }
  const dataDir = path.join(LS_HOME, 'data');
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const env = {
    ...process.env,
    LABEL_STUDIO_BASE_DATA_DIR: dataDir,
    // No phoning home from a benchmark (and nothing to reach from this machine).
    COLLECT_ANALYTICS: 'false',
    SENTRY_DSN: '',
    FRONTEND_SENTRY_DSN: '',
    LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK: 'true',
    LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN: 'true',
    PYTHONUNBUFFERED: '1',
  };
  const child = spawn(
    LS_BIN,
    [
      'start',
      '--no-browser',
      '--internal-host',
      '127.0.0.1',
      '--port',
      String(port),
      '--username',
      LS_USER.email,
      '--password',
      LS_USER.password,
      '--user-token',
      LS_USER.token,
      '--enable-legacy-api-token',
    ],
    { cwd: LS_HOME, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not run ${LS_BIN}`);
  running.add(pid);
  let printed = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (printed += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (printed += chunk));
  /** @type {number | null} */
  let exitCode = null;
  let exited = false;
  child.once('exit', (code) => {
    exited = true;
    exitCode = code;
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (!running.has(pid)) return;
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      // gone
    }
    const deadline = Date.now() + 10_000;
    while (!exited && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
    running.delete(pid);
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(path.join(ARTIFACTS, 'label-studio.log'), printed);
  };
  const started = Date.now();
  let lastSaid = 0;
  try {
    for (;;) {
      if (exited) {
        const lines = printed.trim().split('\n').filter(Boolean);
        throw new Error(
          `label-studio start exited (code ${exitCode}) before answering: ${lines[lines.length - 1] ?? 'it printed nothing'}. ` +
            `Its whole output is in tests/browser/artifacts/label-studio.log; its last lines:\n${lines.slice(-12).join('\n')}`,
        );
      }
      try {
        const response = await fetch(`${url}/health`);
        if (response.ok) break;
      } catch {
        // not listening yet
      }
      const waited = (Date.now() - started) / 1000;
      if (waited > STARTUP_SECONDS) {
        throw new Error(
          `label-studio did not answer ${url}/health in ${STARTUP_SECONDS}s (its whole output is in ` +
            `tests/browser/artifacts/label-studio.log); its last lines:\n` +
            printed.split('\n').slice(-25).join('\n'),
        );
      }
      if (waited - lastSaid >= 15) {
        lastSaid = waited;
        const line = printed.trim().split('\n').filter(Boolean).pop() ?? '';
        say(`Label Studio still starting (${Math.round(waited)}s; the first start migrates its database): ${line.slice(0, 100)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  say(`Label Studio answers at ${url} after ${Math.round((Date.now() - started) / 1000)}s`);
  return { url, stop, output: () => printed, version: await version(url) };
}

/** @param {string} url */
async function version(url) {
  try {
    const answer = await (await fetch(`${url}/api/version`)).json();
    return String(answer.release ?? answer['label-studio-os-package']?.version ?? '?');
  } catch {
    return '?';
  }
}

/**
 * Label Studio's REST API with the user's token.
 * @param {string} url
 * @param {string} method
 * @param {string} route
 * @param {unknown} [json]
 * @returns {Promise<any>}
 */
export async function lsApi(url, method, route, json) {
  const response = await fetch(`${url}${route}`, {
    method,
    headers: {
      authorization: `Token ${LS_USER.token}`,
      ...(json === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`Label Studio ${method} ${route} answered ${response.status}: ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

/**
 * A project with the classes and one task per text.
 * @param {string} url
 * @param {{ title: string, classes: string[], texts: string[] }} spec
 */
export async function seedLabelStudio(url, spec) {
  const project = await lsApi(url, 'POST', '/api/projects', {
    title: spec.title,
    label_config: classificationConfig(spec.classes),
  });
  await lsApi(
    url,
    'POST',
    `/api/projects/${project.id}/import`,
    spec.texts.map((text) => ({ text })),
  );
  const tasks = await lsApi(url, 'GET', `/api/projects/${project.id}`);
  return { id: /** @type {number} */ (project.id), tasks: /** @type {number} */ (tasks.task_number ?? spec.texts.length) };
}

/**
 * Signs in through Label Studio's login form in a throwaway profile and returns its cookies.
 * @param {import('playwright-core').Browser} browser
 * @param {string} url
 */
export async function labelStudioCookies(browser, url) {
  const context = await browser.newContext();
  context.setDefaultTimeout(60_000);
  try {
    const page = await context.newPage();
    await page.goto(`${url}/user/login/`);
    await page.locator('input[name="email"]').fill(LS_USER.email);
    await page.locator('input[name="password"]').fill(LS_USER.password);
    await Promise.all([
      page.waitForURL((next) => !next.pathname.startsWith('/user/login')),
      page.locator('form button[type="submit"], form input[type="submit"]').first().click(),
    ]);
    return await context.cookies();
  } finally {
    await context.close();
  }
}
