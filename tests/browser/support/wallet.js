// @ts-check
/**
 * The Test Wallet: an EIP-1193 provider injected into the page, announced with EIP-6963, whose
 * every request is answered in Node with one of Anvil's dev keys, and sent to the real chain.
 *
 * In the page it is only a messenger (`request`, `on`, `removeListener`); the keys, the connected
 * state and the chain it believes it is on live in Node. It signs (`personal_sign`,
 * `eth_signTypedData_v4`), signs and sends transactions (`eth_sendTransaction`), can start on a
 * wrong chain and switch (`wallet_switchEthereumChain`), and forwards every other method to
 * Anvil's JSON-RPC. It approves whatever it is asked, as a user clicking "Confirm" would.
 */
import { randomUUID } from 'node:crypto';
import {
  createPublicClient,
  hexToBigInt,
  hexToNumber,
  http,
  isAddressEqual,
  isHex,
  numberToHex,
} from 'viem';

const BINDING = '__labelLedgerTestWalletRequest';
const ICON =
  'data:image/svg+xml;base64,' +
  Buffer.from(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" ' +
      'rx="6" fill="#1d4ed8"/><path d="M8 11h16v12H8z" fill="#fff"/></svg>',
  ).toString('base64');

/** EIP-1193 and EIP-1474 error codes the wallet answers with. */
const UNAUTHORIZED = 4100;
const UNSUPPORTED_METHOD = 4200;
const UNRECOGNIZED_CHAIN = 4902;
const INVALID_PARAMS = -32602;

class ProviderError extends Error {
  /** @param {number} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/**
 * Runs in the page before any of its scripts (page.addInitScript): the provider and its
 * EIP-6963 announcement. Self-contained: Playwright sends its source text.
 * @param {{ binding: string, info: { uuid: string, name: string, icon: string, rdns: string } }} setup
 */
function testWalletInPage({ binding, info }) {
  /** @type {Map<string, Set<(value: unknown) => void>>} */
  const listeners = new Map();
  const provider = {
    isTestWallet: true,
    /** @param {{ method: string, params?: unknown[] | object }} args */
    async request(args) {
      if (!args || typeof args.method !== 'string') {
        throw Object.assign(new Error('request({ method, params }) needs a method'), {
          code: -32600,
        });
      }
      const send = /** @type {any} */ (window)[binding];
      const answer = await send({ method: args.method, params: args.params ?? [] });
      if (answer.error) {
        throw Object.assign(new Error(answer.error.message), answer.error);
      }
      return answer.result;
    },
    /** @param {string} event @param {(value: unknown) => void} listener */
    on(event, listener) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event)?.add(listener);
      return provider;
    },
    /** @param {string} event @param {(value: unknown) => void} listener */
    removeListener(event, listener) {
      listeners.get(event)?.delete(listener);
      return provider;
    },
  };
  Object.defineProperty(window, '__labelLedgerTestWallet', {
    value: Object.freeze({
      /** @param {string} event @param {unknown} value */
      emit(event, value) {
        for (const listener of [...(listeners.get(event) ?? [])]) {
          try {
            listener(value);
          } catch (error) {
            console.error('a Test Wallet listener threw', error);
          }
        }
      },
    }),
  });
  const detail = Object.freeze({ info: Object.freeze({ ...info }), provider });
  const announce = () =>
    window.dispatchEvent(new CustomEvent('eip6963:announceProvider', { detail }));
  window.addEventListener('eip6963:requestProvider', announce);
  announce();
}

export class TestWallet {
  /**
   * @param {object} options
   * @param {{ address: `0x${string}`, account: import('viem').HDAccount }} options.dev one of
   *   Anvil's dev accounts (support/accounts.js)
   * @param {string} options.rpcUrl the chain the wallet sends to
   * @param {number} options.chainId the chain's id
   * @param {number} [options.startChainId] the chain the wallet believes it is on at first: a
   *   different id plays a wallet left on another network
   */
  constructor({ dev, rpcUrl, chainId, startChainId = chainId }) {
    this.account = dev.account;
    this.address = dev.address;
    this.rpcUrl = rpcUrl;
    this.realChainId = chainId;
    this.chainId = startChainId;
    this.connected = false;
    this.info = {
      uuid: randomUUID(),
      name: 'Test Wallet',
      icon: ICON,
      rdns: 'dev.label-ledger.test-wallet',
    };
    /** Every method the page asked for, in order (tests read it). @type {string[]} */
    this.requests = [];
    /** Transactions the wallet sent, by hash. @type {`0x${string}`[]} */
    this.sent = [];
    this.chain = createPublicClient({ transport: http(rpcUrl) });
    /** One transaction at a time, so that two never take the same nonce. @type {Promise<unknown>} */
    this.sending = Promise.resolve();
    /** @type {Set<import('playwright-core').Page>} */
    this.pages = new Set();
  }

  /**
   * Injects the wallet into `page` (and every document it loads from now on).
   * @param {import('playwright-core').Page} page
   */
  async install(page) {
    await page.exposeBinding(BINDING, async (_source, /** @type {any} */ request) => {
      try {
        return { result: await this.answer(request.method, request.params) };
      } catch (error) {
        const { code, message } = /** @type {{ code?: number, message: string }} */ (error);
        return { error: { code: typeof code === 'number' ? code : -32603, message } };
      }
    });
    await page.addInitScript(testWalletInPage, { binding: BINDING, info: this.info });
    this.pages.add(page);
    page.once('close', () => this.pages.delete(page));
  }

  /**
   * @param {string} method
   * @param {any} params
   * @returns {Promise<unknown>}
   */
  async answer(method, params) {
    this.requests.push(method);
    const args = Array.isArray(params) ? params : [params];
    switch (method) {
      case 'eth_requestAccounts':
        this.connected = true;
        return [this.address];
      case 'eth_accounts':
        return this.connected ? [this.address] : [];
      case 'eth_coinbase':
        return this.connected ? this.address : null;
      case 'eth_chainId':
        return numberToHex(this.chainId);
      case 'net_version':
        return String(this.chainId);
      case 'wallet_requestPermissions':
        this.connected = true;
        return this.permissions();
      case 'wallet_getPermissions':
        return this.connected ? this.permissions() : [];
      case 'wallet_revokePermissions':
        this.connected = false;
        await this.emit('accountsChanged', []);
        return null;
      case 'personal_sign':
        return this.personalSign(args);
      case 'eth_signTypedData_v4':
        return this.signTypedData(args);
      case 'eth_sendTransaction':
        return this.sendTransaction(args[0]);
      case 'wallet_switchEthereumChain':
        return this.switchChain(args[0]);
      case 'wallet_addEthereumChain':
        if (hexToNumber(args[0]?.chainId ?? '0x0') !== this.realChainId) {
          throw new ProviderError(
            UNSUPPORTED_METHOD,
            `the Test Wallet only reaches chain ${this.realChainId}`,
          );
        }
        return null;
      case 'eth_sign':
      case 'eth_signTransaction':
        throw new ProviderError(UNSUPPORTED_METHOD, `the Test Wallet does not do ${method}`);
      default:
        return this.forward(method, params);
    }
  }

  /** EIP-2255 permissions, with the caveat that names the accounts, as wallets answer them. */
  permissions() {
    return [
      {
        parentCapability: 'eth_accounts',
        caveats: [{ type: 'restrictReturnedAccounts', value: [this.address] }],
      },
    ];
  }

  requireConnected() {
    if (!this.connected) {
      throw new ProviderError(UNAUTHORIZED, 'connect first (eth_requestAccounts)');
    }
  }

  /** @param {unknown} address */
  requireOwn(address) {
    this.requireConnected();
    if (typeof address !== 'string' || !isAddressEqual(/** @type {`0x${string}`} */ (address), this.address)) {
      throw new ProviderError(UNAUTHORIZED, `the Test Wallet holds ${this.address}, not ${address}`);
    }
  }

  /** personal_sign: [message, address]; the message is hex-encoded bytes or plain text. */
  async personalSign(/** @type {any[]} */ [message, address]) {
    this.requireOwn(address);
    if (typeof message !== 'string') throw new ProviderError(INVALID_PARAMS, 'message must be a string');
    return this.account.signMessage({ message: isHex(message) ? { raw: message } : message });
  }

  /** eth_signTypedData_v4: [address, typed data as JSON text]. */
  async signTypedData(/** @type {any[]} */ [address, typedData]) {
    this.requireOwn(address);
    const { domain, types, primaryType, message } =
      typeof typedData === 'string' ? JSON.parse(typedData) : typedData;
    return this.account.signTypedData({ domain, types, primaryType, message });
  }

  /**
   * Signs for the chain the wallet believes it is on (as a real wallet does) and sends the raw
   * transaction to Anvil, which refuses one signed for another chain.
   * @param {{ from?: string, to?: `0x${string}`, data?: `0x${string}`, value?: `0x${string}`,
   *   gas?: `0x${string}`, nonce?: `0x${string}`, maxFeePerGas?: `0x${string}`,
   *   maxPriorityFeePerGas?: `0x${string}` }} tx
   */
  async sendTransaction(tx) {
    if (!tx || typeof tx !== 'object') throw new ProviderError(INVALID_PARAMS, 'no transaction');
    this.requireOwn(tx.from ?? this.address);
    const send = async () => {
      const value = tx.value ? hexToBigInt(tx.value) : 0n;
      const gas =
        tx.gas !== undefined
          ? hexToBigInt(tx.gas)
          : await this.chain.estimateGas({ account: this.address, to: tx.to, data: tx.data, value });
      const nonce =
        tx.nonce !== undefined
          ? hexToNumber(tx.nonce)
          : await this.chain.getTransactionCount({ address: this.address, blockTag: 'pending' });
      const fees = await this.chain.estimateFeesPerGas();
      const signed = await this.account.signTransaction({
        type: 'eip1559',
        chainId: this.chainId,
        to: tx.to,
        data: tx.data,
        value,
        gas,
        nonce,
        maxFeePerGas: tx.maxFeePerGas ? hexToBigInt(tx.maxFeePerGas) : fees.maxFeePerGas,
        maxPriorityFeePerGas: tx.maxPriorityFeePerGas
          ? hexToBigInt(tx.maxPriorityFeePerGas)
          : fees.maxPriorityFeePerGas,
      });
      const hash = /** @type {`0x${string}`} */ (
        await this.forward('eth_sendRawTransaction', [signed])
      );
      this.sent.push(hash);
      return hash;
    };
    const sent = this.sending.then(send, send);
    this.sending = sent.catch(() => undefined);
    return sent;
  }

  /** wallet_switchEthereumChain: [{ chainId }]; only the chain it can reach is known. */
  async switchChain(/** @type {{ chainId?: string } | undefined} */ target) {
    if (!target || typeof target.chainId !== 'string' || !isHex(target.chainId)) {
      throw new ProviderError(INVALID_PARAMS, 'wallet_switchEthereumChain needs [{ chainId }]');
    }
    const chainId = hexToNumber(target.chainId);
    if (chainId !== this.realChainId) {
      throw new ProviderError(UNRECOGNIZED_CHAIN, `the Test Wallet does not know chain ${chainId}`);
    }
    if (chainId !== this.chainId) {
      this.chainId = chainId;
      await this.emit('chainChanged', numberToHex(chainId));
    }
    return null;
  }

  /** Any other method: Anvil answers it. */
  async forward(/** @type {string} */ method, /** @type {unknown} */ params) {
    const response = await fetch(this.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: params ?? [] }),
    });
    const body = await response.json();
    if (body.error) throw new ProviderError(body.error.code, body.error.message);
    return body.result;
  }

  /** Tells every page's listeners, as a wallet extension does. */
  async emit(/** @type {string} */ event, /** @type {unknown} */ value) {
    await Promise.all(
      [...this.pages].map((page) =>
        page
          .evaluate(([name, payload]) => /** @type {any} */ (window).__labelLedgerTestWallet?.emit(name, payload), [event, value])
          .catch(() => undefined), // a page navigating away hears the new state on load
      ),
    );
  }
}
