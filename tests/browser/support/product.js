// @ts-check
/**
 * A real product for the tests: `label-ledger up --fresh` on a free port with its own state
 * folder (its own Anvil, contracts, SQLite database and jobs), stopped when the tests end,
 * however they end (at the latest with its whole process group).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ARTIFACTS, REPO_ROOT } from './paths.js';

const STARTUP_SECONDS = 180;

/** A TCP port nobody listens on now (the kernel's choice). */
export async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}

/** Process groups still running (pid -> state folder), stopped and removed at exit if a test
 * run ends without its `after`. @type {Map<number, string>} */
const running = new Map();

function killGroup(/** @type {number} */ pid, /** @type {NodeJS.Signals | 0} */ signal) {
  try {
    process.kill(-pid, signal);
    return true;
  } catch (error) {
    if (/** @type {NodeJS.ErrnoException} */ (error).code === 'ESRCH') return false;
    throw error;
  }
}

function killAll() {
  for (const [pid, stateDir] of running) {
    killGroup(pid, 'SIGKILL');
    rmSync(stateDir, { recursive: true, force: true });
  }
  running.clear();
}

process.on('exit', killAll);
for (const signal of /** @type {NodeJS.Signals[]} */ (['SIGINT', 'SIGTERM'])) {
  process.once(signal, () => {
    killAll();
    process.exit(128 + os.constants.signals[signal]);
  });
}

/**
 * @typedef {object} Product
 * @property {string} url the API and the web app, e.g. http://127.0.0.1:PORT
 * @property {string} rpcUrl Anvil's JSON-RPC, as the API's health says
 * @property {number} chainId
 * @property {`0x${string}`} ledger the LabelLedger (also the LABEL token)
 * @property {`0x${string}`} paymentToken the dev token dUSD
 * @property {number} paymentTokenIndex its index on the ledger's allowlist
 * @property {string} stateDir
 * @property {() => string} output what `up` printed so far
 * @property {() => Promise<void>} stop
 */

/**
 * Starts `label-ledger up --fresh` and waits until its API answers `GET /v1/health`.
 * @param {{ name: string, upArgs?: string[] }} options `name` names the log kept in artifacts/;
 *   `upArgs` are extra arguments for `up` (e.g. `--settle-every 0`: no settlement job, so a
 *   story that settles from the page is the only one that does)
 * @returns {Promise<Product>}
 */
export async function startProduct({ name, upArgs = [] }) {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'label-ledger-browser-'));
  const port = await freePort();
  // `up` runs on its embedded defaults: a LABEL_LEDGER_* variable of the caller's shell (a
  // database URL, say) must not point this throwaway instance at something that is not its own.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('LABEL_LEDGER_')),
  );
  const child = spawn(
    path.join(REPO_ROOT, '.venv', 'bin', 'label-ledger'),
    ['up', '--fresh', '--port', String(port), '--state-dir', stateDir, ...upArgs],
    {
      cwd: REPO_ROOT,
      // Its own process group: killing it at the end takes whatever `up` left running.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...env, COLUMNS: '160', NO_COLOR: '1', TERM: 'dumb' },
    },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start .venv/bin/label-ledger: run ./scripts/setup');
  running.set(pid, stateDir);
  let printed = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (printed += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (printed += chunk));
  let exited = false;
  child.once('exit', () => (exited = true));

  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (!running.has(pid)) return;
    // SIGTERM to `up` alone: it stops its API, then its jobs, then its Anvil (saving the chain's
    // state), in that order. Sent to the whole group, Anvil died at once while the mirror was
    // still polling it, and `up` waited out the mirror's RPC retries (~10-15 s, up to this
    // deadline) before it stopped: about half the files paid that at the end.
    try {
      process.kill(pid, 'SIGTERM');
    } catch (error) {
      if (/** @type {NodeJS.ErrnoException} */ (error).code !== 'ESRCH') throw error;
    }
    const deadline = Date.now() + 15_000;
    // The group outlives `up` itself while Anvil writes its state: wait for all of it.
    while (Date.now() < deadline && (killGroup(pid, 0) || !exited)) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    killGroup(pid, 'SIGKILL');
    running.delete(pid);
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(path.join(ARTIFACTS, `up-${name}.log`), printed);
    rmSync(stateDir, { recursive: true, force: true });
  };

  try {
    const health = await waitForHealth(url, () => exited, () => printed);
    const deployment = JSON.parse(readFileSync(path.join(stateDir, 'deployment.json'), 'utf8'));
    const token = deployment.payment_tokens[0];
    if (health.chain_id !== deployment.chain_id || !health.rpc_url) {
      throw new Error(`health and deployment.json disagree: ${JSON.stringify(health)}`);
    }
    return {
      url,
      rpcUrl: health.rpc_url,
      chainId: health.chain_id,
      ledger: deployment.ledger,
      paymentToken: token.address,
      paymentTokenIndex: token.index,
      stateDir,
      output: () => printed,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * @param {string} url
 * @param {() => boolean} exited
 * @param {() => string} printed
 */
async function waitForHealth(url, exited, printed) {
  const deadline = Date.now() + STARTUP_SECONDS * 1000;
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`label-ledger up exited at start:\n${printed()}`);
    try {
      const response = await fetch(`${url}/v1/health`);
      if (response.ok) return await response.json();
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`label-ledger up did not answer ${url}/v1/health in ${STARTUP_SECONDS}s:\n${printed()}`);
}
