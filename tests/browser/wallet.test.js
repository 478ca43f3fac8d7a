// @ts-check
/**
 * The harness itself, proven on a real `up` without the app's pages: a page finds the Test
 * Wallet through EIP-6963, the real API accepts the EIP-4361 signature it makes, its
 * transactions land on the real chain, it can start on a wrong chain and switch, and the seeding
 * leaves an open, funded dataset.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { encodeFunctionData, getAddress, verifyTypedData } from 'viem';
import { devAccount, ledgerDevKeys, PARTS } from './support/accounts.js';
import { launchBrowser } from './support/pages.js';
import { startProduct } from './support/product.js';
import { abiOf, ApiUser, PET_SENTENCES, seedClassesDataset, UNIT, walletClientOf } from './support/seed.js';
import { TestWallet } from './support/wallet.js';

const ANVIL_CHAIN_ID_HEX = '0x7a69';
const DUSD_ABI = abiOf('dev/DevStablecoin.sol', 'DevStablecoin');

describe('the test harness against a real up, without the pages', { timeout: 300_000 }, () => {
  /** @type {import('./support/product.js').Product} */
  let product;
  /** @type {import('playwright-core').Browser} */
  let browser;

  before(async () => {
    product = await startProduct({ name: 'wallet' });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await product?.stop();
  });

  /** A page at the product's origin (its health answer) with a Test Wallet injected. */
  async function pageWith(/** @type {TestWallet} */ wallet) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await wallet.install(page);
    await page.goto(`${product.url}/v1/health`);
    return page;
  }

  test('the dev keys are the ones ledger/chain names', () => {
    const named = ledgerDevKeys();
    assert.ok(named.length >= 2, 'ledger/chain/devnode.py names at least two dev keys');
    named.forEach((key, index) => assert.equal(devAccount(index).privateKey, key));
  });

  test('a page discovers the Test Wallet with EIP-6963 and signs in with it through the real API', async () => {
    const dev = devAccount(PARTS.harness);
    const wallet = new TestWallet({ dev, rpcUrl: product.rpcUrl, chainId: product.chainId });
    const page = await pageWith(wallet);
    const seen = await page.evaluate(async () => {
      /** @type {any[]} */
      const found = [];
      window.addEventListener('eip6963:announceProvider', (event) =>
        found.push(/** @type {CustomEvent} */ (event).detail),
      );
      window.dispatchEvent(new Event('eip6963:requestProvider'));
      const { info, provider } = found[0];
      const accountsBefore = await provider.request({ method: 'eth_accounts' });
      const [address] = await provider.request({ method: 'eth_requestAccounts' });
      const chainId = await provider.request({ method: 'eth_chainId' });
      const blockNumber = await provider.request({ method: 'eth_blockNumber' });
      // EIP-4361 by hand, from the nonce answer's fields, as any app would.
      const nonce = await (await fetch('/v1/auth/nonce', { method: 'POST' })).json();
      const issuedAt = new Date();
      const expires = new Date(issuedAt.getTime() + 600_000);
      const message = [
        `${nonce.domain} wants you to sign in with your Ethereum account:`,
        address,
        '',
        nonce.statement,
        '',
        `URI: ${nonce.uri}`,
        'Version: 1',
        `Chain ID: ${nonce.chain_id}`,
        `Nonce: ${nonce.nonce}`,
        `Issued At: ${issuedAt.toISOString()}`,
        `Expiration Time: ${expires.toISOString()}`,
      ].join('\n');
      const hex =
        '0x' + [...new TextEncoder().encode(message)].map((b) => b.toString(16).padStart(2, '0')).join('');
      const signature = await provider.request({ method: 'personal_sign', params: [hex, address] });
      const response = await fetch('/v1/auth/session', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message, signature }),
      });
      return {
        announced: found.length,
        info,
        isFrozen: Object.isFrozen(found[0]),
        accountsBefore,
        address,
        chainId,
        blockNumber,
        status: response.status,
        session: await response.json(),
      };
    });
    assert.equal(seen.announced, 1, 'one announcement per eip6963:requestProvider');
    assert.equal(seen.info.name, 'Test Wallet');
    assert.match(seen.info.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(seen.info.icon, /^data:image\/svg\+xml;base64,/);
    assert.equal(seen.info.rdns, 'dev.label-ledger.test-wallet');
    assert.ok(seen.isFrozen, 'EIP-6963 wants the announced detail frozen');
    assert.deepEqual(seen.accountsBefore, [], 'not connected before eth_requestAccounts');
    assert.equal(seen.address, dev.address);
    assert.equal(seen.chainId, ANVIL_CHAIN_ID_HEX);
    assert.match(seen.blockNumber, /^0x[0-9a-f]+$/, 'other methods are answered by Anvil');
    assert.equal(seen.status, 201, JSON.stringify(seen.session));
    assert.equal(seen.session.address, dev.address);
    const me = await fetch(`${product.url}/v1/me`, {
      headers: { authorization: `Bearer ${seen.session.access_token}` },
    });
    assert.deepEqual(await me.json(), { address: dev.address, roles: [] });
    assert.deepEqual(wallet.requests.slice(0, 5), [
      'eth_accounts',
      'eth_requestAccounts',
      'eth_chainId',
      'eth_blockNumber',
      'personal_sign',
    ]);
  });

  test('the Test Wallet signs typed data and sends transactions that land on the real chain', async () => {
    const dev = devAccount(PARTS.harness);
    const wallet = new TestWallet({ dev, rpcUrl: product.rpcUrl, chainId: product.chainId });
    const page = await pageWith(wallet);
    const chain = walletClientOf(product, dev);
    const before = /** @type {bigint} */ (
      await chain.readContract({ address: product.paymentToken, abi: DUSD_ABI, functionName: 'balanceOf', args: [dev.address] })
    );
    const mint = encodeFunctionData({ abi: DUSD_ABI, functionName: 'mint', args: [dev.address, 5n * BigInt(UNIT)] });
    const permit = {
      domain: { name: 'Dev USD', version: '1', chainId: product.chainId, verifyingContract: product.paymentToken },
      types: {
        EIP712Domain: [
          { name: 'name', type: 'string' },
          { name: 'version', type: 'string' },
          { name: 'chainId', type: 'uint256' },
          { name: 'verifyingContract', type: 'address' },
        ],
        Permit: [
          { name: 'owner', type: 'address' },
          { name: 'spender', type: 'address' },
          { name: 'value', type: 'uint256' },
          { name: 'nonce', type: 'uint256' },
          { name: 'deadline', type: 'uint256' },
        ],
      },
      primaryType: 'Permit',
      message: { owner: dev.address, spender: product.ledger, value: '1000000', nonce: '0', deadline: '4102444800' },
    };
    const { hash, signature } = await page.evaluate(
      async ({ from, to, data, typed }) => {
        /** @type {any} */
        let provider;
        window.addEventListener('eip6963:announceProvider', (event) => {
          provider = /** @type {CustomEvent} */ (event).detail.provider;
        });
        window.dispatchEvent(new Event('eip6963:requestProvider'));
        await provider.request({ method: 'eth_requestAccounts' });
        const hash = await provider.request({ method: 'eth_sendTransaction', params: [{ from, to, data }] });
        const signature = await provider.request({
          method: 'eth_signTypedData_v4',
          params: [from, JSON.stringify(typed)],
        });
        return { hash, signature };
      },
      { from: dev.address, to: product.paymentToken, data: mint, typed: permit },
    );
    const receipt = await chain.waitForTransactionReceipt({ hash });
    assert.equal(receipt.status, 'success');
    assert.equal(getAddress(receipt.from), dev.address);
    const afterMint = await chain.readContract({
      address: product.paymentToken,
      abi: DUSD_ABI,
      functionName: 'balanceOf',
      args: [dev.address],
    });
    assert.equal(afterMint, before + 5n * BigInt(UNIT), 'balanceOf on chain counts the mint');
    const { EIP712Domain: _, ...types } = permit.types;
    assert.ok(
      await verifyTypedData({
        address: dev.address,
        domain: permit.domain,
        types,
        primaryType: 'Permit',
        message: { ...permit.message, value: 1_000_000n, nonce: 0n, deadline: 4102444800n },
        signature,
      }),
      'the typed-data signature recovers to the wallet',
    );
  });

  test('a Test Wallet left on another chain is refused by Anvil until it switches', async () => {
    const dev = devAccount(PARTS.harness);
    const wallet = new TestWallet({ dev, rpcUrl: product.rpcUrl, chainId: product.chainId, startChainId: 1 });
    const page = await pageWith(wallet);
    const mint = encodeFunctionData({ abi: DUSD_ABI, functionName: 'mint', args: [dev.address, 1n] });
    const seen = await page.evaluate(
      async ({ from, to, data, target }) => {
        /** @type {any} */
        let provider;
        window.addEventListener('eip6963:announceProvider', (event) => {
          provider = /** @type {CustomEvent} */ (event).detail.provider;
        });
        window.dispatchEvent(new Event('eip6963:requestProvider'));
        /** @type {unknown[]} */
        const heard = [];
        provider.on('chainChanged', (/** @type {unknown} */ id) => heard.push(id));
        /** @param {() => Promise<unknown>} action */
        const refusal = async (action) => {
          try {
            await action();
            return null;
          } catch (error) {
            return { code: /** @type {any} */ (error).code, message: String(/** @type {any} */ (error).message) };
          }
        };
        await provider.request({ method: 'eth_requestAccounts' });
        const first = await provider.request({ method: 'eth_chainId' });
        const wrongChainSend = await refusal(() =>
          provider.request({ method: 'eth_sendTransaction', params: [{ from, to, data }] }),
        );
        const unknownChain = await refusal(() =>
          provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: '0x2105' }] }),
        );
        await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: target }] });
        const then = await provider.request({ method: 'eth_chainId' });
        const hash = await provider.request({ method: 'eth_sendTransaction', params: [{ from, to, data }] });
        return { first, wrongChainSend, unknownChain, heard, then, hash };
      },
      { from: dev.address, to: product.paymentToken, data: mint, target: ANVIL_CHAIN_ID_HEX },
    );
    assert.equal(seen.first, '0x1');
    assert.match(
      seen.wrongChainSend?.message ?? 'sent',
      /chain id/i,
      'a transaction signed for chain 1 is refused by the dev chain',
    );
    assert.equal(seen.unknownChain?.code, 4902);
    assert.deepEqual(seen.heard, [ANVIL_CHAIN_ID_HEX], 'chainChanged is heard once, with the new id');
    assert.equal(seen.then, ANVIL_CHAIN_ID_HEX);
    const receipt = await walletClientOf(product, dev).waitForTransactionReceipt({ hash: seen.hash });
    assert.equal(receipt.status, 'success');
  });

  test('seeding leaves an open dataset, funded on chain, with its items, for annotators to see', async () => {
    const name = 'Harness pets';
    const { dataset, price, reward } = await seedClassesDataset(product, devAccount(PARTS.buyer), {
      name,
      classes: ['cat', 'dog', 'bird'],
      items: PET_SENTENCES,
      instructions: '# Which animal?\n\nPick the animal the sentence is about.',
    });
    assert.equal(dataset.status, 'open');
    assert.equal(dataset.price_per_label, price);
    assert.equal(dataset.reward_per_label, reward);
    const annotator = await new ApiUser(product.url, devAccount(PARTS.harness)).signIn('annotator');
    const listed = await annotator.get('/v1/datasets');
    assert.deepEqual(
      listed.map((/** @type {any} */ d) => [d.name, d.status]),
      [[name, 'open']],
    );
    const next = await annotator.get(`/v1/datasets/${dataset.id}/next-item`);
    const texts = PET_SENTENCES.map(([, text]) => text);
    assert.ok(texts.includes(next.data?.text), `served one of the uploaded items: ${JSON.stringify(next)}`);
    await annotator.post(`/v1/items/${next.item_id}/release`);
  });
});
