// @ts-check
/**
 * The whole loop through the pages only, against one real `up` (its settlement job off: the
 * operator settles from the page). Every person is a separate browser profile with their own
 * Test Wallet and does everything on the app's pages: a buyer creates three datasets (classes,
 * boxes, spans), funds each through the wallet and uploads its items from a file; three
 * annotators label them (keys, mouse drags on the picture, text selected with the mouse); a
 * reviewer accepts and rejects; the annotator whose label was rejected disputes it and wins; the
 * operator settles; each annotator claims through their wallet; an auditor verifies one
 * annotator's proof bundle in the browser; and every balance a page shows equals `balanceOf`
 * read from the chain.
 *
 * Node does only what no person would do on the pages: it reads the chain (balanceOf,
 * the ledger's roots), mints dUSD to the buyer's wallet (the dev token has no faucet page), moves
 * Anvil's clock past the epoch timelock should the ledger have one, reads, as the people's
 * eyes, where the generated pictures' animals and the texts' places are (ledger/media.py), and
 * pushes annotator C's claim from another wallet with C's public proof bundle while C's page still
 * offers it (as anyone may, without the service's pages).
 * Every page visited is checked with axe-core and photographed (artifacts/loop-*).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createPublicClient, erc20Abi, formatUnits, http, parseUnits } from 'viem';
import { devAccount, PARTS } from './support/accounts.js';
import { checkPage, launchBrowser } from './support/pages.js';
import { ARTIFACTS, REPO_ROOT } from './support/paths.js';
import { startProduct } from './support/product.js';
import { abiOf, PET_SENTENCES, walletClientOf } from './support/seed.js';
import {
  appointReviewer,
  as,
  balancesShown,
  connectAndSignIn,
  createDataset,
  dragBox,
  exactly,
  fact,
  fundFromWallet,
  labelled,
  navigate,
  openActor,
  openWorkspace,
  reviewQueue,
  selectWithMouse,
  settleNow,
  takeRole,
  uploadItems,
} from './support/steps.js';

/** Who plays whom: Anvil's dev accounts (0 is `up`'s operator; 8 and 9 no support part names). */
const WHO = Object.freeze({
  operator: PARTS.operator,
  buyer: PARTS.buyer,
  classesAnnotator: PARTS.annotator,
  boxesAnnotator: PARTS.secondAnnotator,
  spansAnnotator: 9,
  reviewer: PARTS.reviewer,
  auditor: 8,
});

/** The classes dataset's items and the class each sentence is about. */
const SENTENCES = PET_SENTENCES.slice(0, 3);
const CLASS_OF = new Map([
  ['pet-01', 'cat'],
  ['pet-02', 'dog'],
  ['pet-03', 'bird'],
]);
/** Generated pictures (/media/pets/<n>.png) and texts (/media/texts/<n>.txt) of the other two. */
const PETS = [3, 4];
const TEXTS = [0, 1];

const DATASETS = Object.freeze({
  classes: {
    name: 'Which pet, in a sentence',
    type: /** @type {const} */ ('classes'),
    classes: ['cat', 'dog', 'bird'],
    price: '0.5',
    reward: '2',
    fund: '2',
    instructions: '# Which animal?\n\nPick the animal the sentence is about.',
  },
  boxes: {
    name: 'Box the pet',
    type: /** @type {const} */ ('boxes'),
    price: '1',
    reward: '1',
    fund: '3',
    instructions: '# Box the animal\n\nDrag a box around the whole animal, ears and tail included.',
  },
  spans: {
    name: 'Places in a sentence',
    type: /** @type {const} */ ('spans'),
    price: '0.75',
    reward: '3',
    fund: '2',
    instructions: '# Where?\n\nSelect the name of the place the sentence mentions.',
  },
});
/** The label the reviewer wrongly rejects, and what each side says. */
const REJECTED_ITEM = 'pet-03';
const REJECTION = 'A robin with a worm: the worm is the animal here';
const DISPUTE = 'The sentence is about the robin, a bird; the worm is its food';
const UPHELD = 'The instructions ask for the animal the sentence is about: the robin';

describe('the whole loop, through the pages only', { timeout: 600_000 }, () => {
  /** @type {import('./support/product.js').Product} */
  let product;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {import('viem').PublicClient} */
  let chain;
  /** Where the people see the animals and the places (ledger/media.py's truth). */
  /** @type {{ pets: Record<string, { kind: string, box: number[] }>, texts: { text: string, place: string }[] }} */
  let media;
  /** @type {Record<string, import('./support/steps.js').Actor>} */
  const actors = {};
  /** @type {Record<string, string>} the tokens' symbols, read from the chain */
  const symbol = {};
  /** @type {Record<string, number>} and their decimals */
  const decimals = {};
  /** Labels each annotator sent, by their part. @type {Record<string, number>} */
  const sent = {};
  /** Each label sent, by its item, as the reviewer's page should say it. @type {Map<string, string>} */
  const saidOf = new Map();
  /** Labels of each annotator's verified so far (accepted, or won by dispute): what the epoch
   * pays them. @type {Record<string, number>} */
  const verified = { classesAnnotator: 0, boxesAnnotator: 0, spansAnnotator: 0 };
  /** Whose labels each dataset holds. @type {Record<string, keyof typeof verified>} */
  const labelledBy = {
    [DATASETS.classes.name]: 'classesAnnotator',
    [DATASETS.boxes.name]: 'boxesAnnotator',
    [DATASETS.spans.name]: 'spansAnnotator',
  };
  /** @type {number} */
  let epoch;
  /** A's proof bundle, downloaded from /me/earnings. @type {string} */
  let bundleFile;

  before(async () => {
    product = await startProduct({ name: 'loop', upArgs: ['--settle-every', '0'] });
    const home = await fetch(`${product.url}/`);
    if (!home.ok || !(home.headers.get('content-type') ?? '').startsWith('text/html')) {
      throw new Error(`GET / answered ${home.status}, not the web app: build it (npm run build --prefix web)`);
    }
    chain = /** @type {import('viem').PublicClient} */ (createPublicClient({ transport: http(product.rpcUrl) }));
    for (const token of [product.paymentToken, product.ledger]) {
      symbol[token] = await chain.readContract({ address: token, abi: erc20Abi, functionName: 'symbol' });
      decimals[token] = await chain.readContract({ address: token, abi: erc20Abi, functionName: 'decimals' });
    }
    media = JSON.parse(
      execFileSync(
        path.join(REPO_ROOT, '.venv', 'bin', 'python'),
        [
          '-c',
          'import json, sys\nfrom ledger.media import pet, TEXTS\n' +
            'pets = [int(n) for n in sys.argv[1].split(",")]\ntexts = [int(n) for n in sys.argv[2].split(",")]\n' +
            'print(json.dumps({"pets": {n: {"kind": pet(n).kind, "box": list(pet(n).box)} for n in pets}, ' +
            '"texts": [{"text": TEXTS[n].text, "place": TEXTS[n].place} for n in texts]}))',
          PETS.join(','),
          TEXTS.join(','),
        ],
        { cwd: REPO_ROOT, encoding: 'utf8' },
      ),
    );
    // Not a person's step: the dev token dUSD has no faucet page, so the buyer's wallet is
    // given dUSD on the dev chain before the story begins.
    const buyerKey = devAccount(WHO.buyer);
    const minter = walletClientOf(product, buyerKey);
    const hash = await minter.writeContract({
      address: product.paymentToken,
      abi: abiOf('dev/DevStablecoin.sol', 'DevStablecoin'),
      functionName: 'mint',
      args: [buyerKey.address, parseUnits('10', decimals[product.paymentToken])],
    });
    assert.equal((await minter.waitForTransactionReceipt({ hash })).status, 'success');
    browser = await launchBrowser();
  });

  after(async () => {
    for (const actor of Object.values(actors)) await actor.context.close().catch(() => undefined);
    await browser?.close();
    await product?.stop();
  });

  /** The person playing `part`, their profile opened and signed in at first need. */
  async function actor(/** @type {keyof typeof WHO} */ part) {
    if (!actors[part]) {
      const opened = await openActor(browser, product, WHO[part], `loop-${part}`);
      await as(opened, 'sign-in', (page) => connectAndSignIn(page, opened.dev.address));
      actors[part] = opened;
    }
    return actors[part];
  }

  const balanceOf = (/** @type {`0x${string}`} */ token, /** @type {`0x${string}`} */ who) =>
    chain.readContract({ address: token, abi: erc20Abi, functionName: 'balanceOf', args: [who] });
  /** A balance as the pages show one: token units and the token's symbol. */
  const shown = (/** @type {`0x${string}`} */ token, /** @type {bigint} */ value) =>
    `${formatUnits(value, decimals[token])} ${symbol[token]}`;
  /** Base units of an amount typed in token units, as a person types it on the pages. */
  const units = (/** @type {`0x${string}`} */ token, /** @type {string} */ amount) => parseUnits(amount, decimals[token]);

  test('the buyer creates the classes, boxes and spans datasets, funds each through the wallet, uploads its items from a file and appoints the reviewer', async () => {
    const buyer = await actor('buyer');
    const reviewer = devAccount(WHO.reviewer);
    mkdirSync(ARTIFACTS, { recursive: true });
    // The buyer's files: sentences, pictures and texts this server generates under /media/.
    /** @type {string[]} */
    const texts = [];
    for (const n of TEXTS) texts.push(await (await fetch(`${product.url}/media/texts/${n}.txt`)).text());
    assert.deepEqual(texts, media.texts.map((t) => t.text), "the server's texts are ledger/media.py's");
    const files = {
      classes: SENTENCES.map(([id, text]) => ({ id, data: { text } })),
      boxes: PETS.map((n, i) => ({ id: `box-0${i + 1}`, data: { image: `/media/pets/${n}.png` } })),
      spans: TEXTS.map((n, i) => ({ id: `place-0${i + 1}`, data: { text: texts[i] } })),
    };
    const ledgerBefore = await balanceOf(product.paymentToken, product.ledger);
    const walletBefore = await balanceOf(product.paymentToken, buyer.dev.address);
    await as(buyer, 'datasets', async (page) => {
      await checkPage(page, 'loop-home');
      await takeRole(page, 'buyer');
      for (const [kind, form] of Object.entries(DATASETS)) {
        await createDataset(page, form, async () => {
          if (kind === 'classes') await checkPage(page, 'loop-buyer-new');
        });
        await page.getByRole('status').filter({ hasText: 'awaiting funds' }).waitFor();
        await fundFromWallet(page, form.fund);
        const file = path.join(ARTIFACTS, `loop-${kind}-items.jsonl`);
        const items = files[/** @type {keyof typeof files} */ (kind)];
        writeFileSync(file, items.map((item) => JSON.stringify(item)).join('\n') + '\n');
        await uploadItems(page, file, items.length);
        await appointReviewer(page, reviewer.address);
        if (kind === 'classes') await checkPage(page, 'loop-buyer-dataset');
      }
      await navigate(page, 'My datasets');
      for (const form of Object.values(DATASETS)) {
        const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: form.name, exact: true }) });
        await row.getByRole('cell', { name: 'open', exact: true }).waitFor();
        await row.getByRole('cell', { name: `${form.fund} dUSD`, exact: true }).waitFor();
      }
      await checkPage(page, 'loop-buyer');
    });
    const funded = Object.values(DATASETS).reduce((sum, form) => sum + units(product.paymentToken, form.fund), 0n);
    assert.equal((await balanceOf(product.paymentToken, product.ledger)) - ledgerBefore, funded, 'the escrow holds what the buyer funded');
    assert.equal(walletBefore - (await balanceOf(product.paymentToken, buyer.dev.address)), funded, "the buyer's dUSD fell by it");
  });

  test('annotator A labels the classes with the keys 1 to 3', async () => {
    const annotator = await actor('classesAnnotator');
    await as(annotator, 'label', async (page) => {
      await takeRole(page, 'annotator');
      await checkPage(page, 'loop-annotator-account');
      await navigate(page, 'Datasets');
      await page.getByRole('link', { name: DATASETS.classes.name, exact: true }).waitFor();
      await checkPage(page, 'loop-annotator-datasets');
      await openWorkspace(page, DATASETS.classes.name, () => checkPage(page, 'loop-annotator-dataset'));
      const classes = page.getByRole('group', { name: 'Classes' });
      for (let n = 1; n <= SENTENCES.length; n += 1) {
        const [id] = await shownSentence(page);
        if (n === 1) await checkPage(page, 'loop-annotator-workspace-classes');
        const value = /** @type {string} */ (CLASS_OF.get(id));
        const key = await classes.getByRole('button', { name: value, exact: true }).getAttribute('aria-keyshortcuts');
        await page.keyboard.press(/** @type {string} */ (key));
        await labelled(page, n);
        saidOf.set(id, value);
      }
      await page.getByText('Nothing more to label in this dataset').waitFor();
      sent.classesAnnotator = SENTENCES.length;
      await navigate(page, 'My labels');
      const table = page.getByRole('table', { name: 'My labels' });
      for (const [id, value] of CLASS_OF) {
        const cells = table.getByRole('row').filter({ has: page.getByRole('cell', { name: id, exact: true }) }).getByRole('cell');
        await cells.filter({ hasText: exactly(value) }).waitFor();
        await cells.filter({ hasText: exactly('pending') }).waitFor();
      }
    });
  });

  test('annotator B draws a box around each animal with a mouse drag', async () => {
    const annotator = await actor('boxesAnnotator');
    await as(annotator, 'label', async (page) => {
      await takeRole(page, 'annotator');
      await openWorkspace(page, DATASETS.boxes.name);
      for (let n = 1; n <= PETS.length; n += 1) {
        const picture = page.getByRole('img', { name: /^Item box-0\d$/ });
        await picture.waitFor();
        const name = /** @type {string} */ (await picture.getAttribute('alt'));
        const pet = PETS[Number(name.slice(-1)) - 1];
        const truth = media.pets[String(pet)].box;
        const drawn = await dragBox(page, name, truth);
        for (const [i, corner] of drawn.entries()) {
          assert.ok(Math.abs(corner - truth[i]) <= 1, `${name}: the drag drew ${drawn}, the animal is at ${truth}`);
        }
        if (n === 1) await checkPage(page, 'loop-annotator-workspace-boxes');
        await page.getByRole('button', { name: 'Submit the box' }).click();
        await labelled(page, n);
        const [x0, y0, x1, y1] = drawn;
        saidOf.set(name.replace(/^Item /, ''), `Box from (${x0}, ${y0}) to (${x1}, ${y1}), in the picture's pixels`);
      }
      await page.getByText('Nothing more to label in this dataset').waitFor();
      sent.boxesAnnotator = PETS.length;
    });
  });

  test('annotator C selects each place in the text with the mouse', async () => {
    const annotator = await actor('spansAnnotator');
    await as(annotator, 'label', async (page) => {
      await takeRole(page, 'annotator');
      await openWorkspace(page, DATASETS.spans.name);
      for (let n = 1; n <= TEXTS.length; n += 1) {
        const paragraph = page.locator('.span-text');
        await paragraph.waitFor();
        const text = ((await paragraph.textContent()) ?? '').trim();
        const found = media.texts.find((t) => t.text === text);
        assert.ok(found, `the workspace shows one of the buyer's texts: ${text}`);
        await selectWithMouse(page, text, found.place);
        const start = Array.from(text.slice(0, text.indexOf(found.place))).length;
        const end = start + Array.from(found.place).length;
        await page.getByRole('status').filter({ hasText: `Selected characters ${start} to ${end}: “${found.place}”` }).waitFor();
        if (n === 1) await checkPage(page, 'loop-annotator-workspace-spans');
        const item = ((await page.locator('.item-id').textContent()) ?? '').replace(/^Item /, '').trim();
        await page.getByRole('button', { name: 'Submit the selection' }).click();
        await labelled(page, n);
        saidOf.set(item, `Characters ${start} to ${end} of the text`);
      }
      await page.getByText('Nothing more to label in this dataset').waitFor();
      sent.spansAnnotator = TEXTS.length;
    });
  });

  test(`the reviewer accepts every label but ${REJECTED_ITEM}'s, which they reject with a reason`, async () => {
    const reviewer = await actor('reviewer');
    await as(reviewer, 'review', async (page) => {
      await navigate(page, 'Review');
      await page.waitForURL(/\/review$/);
      await page.getByRole('heading', { level: 2, name: /^Item / }).waitFor();
      await checkPage(page, 'loop-reviewer');
      const decided = await reviewQueue(page, Object.values(DATASETS).map((form) => form.name), async (item) => {
        // The label as its annotator sent it, in words beside the item.
        const said = saidOf.get(item);
        assert.ok(said, `${item} is an item an annotator labelled`);
        await page.getByRole('region', { name: 'Label to review' }).getByText(said, { exact: true }).waitFor();
        return item === REJECTED_ITEM ? { verdict: 'reject', reason: REJECTION } : { verdict: 'accept' };
      });
      for (const { dataset, verdict } of decided) if (verdict === 'accept') verified[labelledBy[dataset]] += 1;
      const total = Object.values(sent).reduce((sum, n) => sum + n, 0);
      assert.equal(decided.length, total, `the reviewer decided every label sent: ${JSON.stringify(decided)}`);
      assert.deepEqual(decided.filter((d) => d.verdict === 'reject').map((d) => d.item), [REJECTED_ITEM]);
    });
  });

  test('annotator A disputes the rejection on My labels, the operator upholds it on the disputes page, and the row says the dispute was won', async () => {
    const annotator = await actor('classesAnnotator');
    const row = (/** @type {import('playwright-core').Page} */ page) =>
      page
        .getByRole('table', { name: 'My labels' })
        .getByRole('row')
        .filter({ has: page.getByRole('cell', { name: REJECTED_ITEM, exact: true }) });
    await as(annotator, 'dispute', async (page) => {
      // Back on My labels later (from another page: the list is read again when it opens).
      await navigate(page, 'Datasets');
      await navigate(page, 'My labels');
      await row(page).getByRole('cell', { name: 'rejected', exact: true }).waitFor();
      await row(page).getByRole('cell', { name: REJECTION, exact: true }).waitFor();
      const dispute = row(page).getByRole('button', { name: /^Dispute label \d+$/ });
      const found = await dispute.count();
      assert.equal(
        found,
        1,
        'My labels offers no "Dispute label <id>" button on the rejected row: the dispute UI ' +
          '(web/src/annotator/MyLabelsPage.tsx) has not landed, or the web app was not rebuilt',
      );
      await dispute.click();
      await page.getByRole('textbox', { name: 'Why your label is right' }).fill(DISPUTE);
      await checkPage(page, 'loop-annotator-dispute');
      await page.getByRole('button', { name: 'Open dispute' }).click();
      await row(page).getByText('Dispute open').waitFor();
    });

    // A reviewer other than the one who rejected, or an operator, decides: here the operator.
    const operator = await actor('operator');
    await as(operator, 'decide', async (page) => {
      await navigate(page, 'Review');
      await page.getByRole('link', { name: 'Disputes to decide' }).click();
      await page.waitForURL(/\/review\/disputes$/);
      const card = page.getByRole('article', { name: new RegExp(`on item ${REJECTED_ITEM} of ${DATASETS.classes.name}$`) });
      await card.waitFor();
      await card.getByText(REJECTION, { exact: true }).first().waitFor();
      await card.getByText(DISPUTE, { exact: true }).first().waitFor();
      await checkPage(page, 'loop-operator-disputes');
      await card.getByRole('radio', { name: /^Uphold/ }).check();
      await card.getByRole('textbox', { name: /Reason for your decision/ }).fill(UPHELD);
      await card.getByRole('button', { name: 'Uphold the dispute' }).click();
      await page.getByRole('status').filter({ hasText: /Decided 1 dispute; dispute \d+ upheld/ }).waitFor();
      await page.getByText('No dispute waits for you').waitFor();
    });

    await as(annotator, 'dispute-won', async (page) => {
      await page.reload();
      await row(page).getByText('Dispute won').waitFor();
      await row(page).getByRole('cell', { name: 'verified', exact: true }).waitFor();
      await checkPage(page, 'loop-annotator-dispute-won');
    });
    verified.classesAnnotator += 1;
  });

  test('the operator settles from the Operator page and the chain accepts the epoch', async () => {
    const operator = await actor('operator');
    const ledger = { address: product.ledger, abi: abiOf('LabelLedger.sol', 'LabelLedger') };
    await as(operator, 'settle', async (page) => {
      await navigate(page, 'Operator');
      await page.getByRole('heading', { level: 1, name: 'Operator' }).waitFor();
      const current = page.getByRole('region', { name: 'Current epochs' });
      // Current epochs are an auditor's read: the operator takes that role from the page.
      await current.getByRole('button', { name: 'Take the auditor role' }).click();
      await current.getByText('No epoch is accepted yet.').waitFor();
      epoch = await settleNow(page, async () => {
        // Not a person's step: inside the ledger's timelock, the dev chain's clock is moved past it.
        const timelock = Number(await chain.readContract({ ...ledger, functionName: 'TIMELOCK' }));
        await rpc('evm_increaseTime', [timelock + 1]);
        await rpc('evm_mine', []);
      });
      await current.getByRole('heading', { name: `Epoch ${epoch}` }).waitFor();
      await current.getByText('accepted: claimable').waitFor();
      const root = /** @type {string} */ (await chain.readContract({ ...ledger, functionName: 'payoutRoot' }));
      await current.getByText(root.toLowerCase()).first().waitFor();
      await checkPage(page, 'loop-operator-settled');
    });
    assert.equal(Number(await chain.readContract({ ...ledger, functionName: 'acceptedEpoch' })), epoch, 'the chain accepted the epoch the page named');
  });

  for (const [part, kind] of /** @type {const} */ ([
    ['classesAnnotator', 'classes'],
    ['boxesAnnotator', 'boxes'],
    ['spansAnnotator', 'spans'],
  ])) {
    const title =
      part === 'spansAnnotator'
        ? `${part} presses Claim after someone else pushed the claim, is told nothing is left, and sends nothing; the chain paid what the page said`
        : `${part} claims on Earnings through the wallet, and the chain pays what the page said`;
    test(title, async () => {
      assert.ok(epoch, 'runs after the operator settled');
      const annotator = await actor(part);
      const form = DATASETS[kind];
      const labels = BigInt(verified[part]);
      const payment = labels * units(product.paymentToken, form.price);
      const reward = labels * units(product.ledger, form.reward);
      const before = {
        payment: await balanceOf(product.paymentToken, annotator.dev.address),
        reward: await balanceOf(product.ledger, annotator.dev.address),
      };
      await as(annotator, 'claim', async (page) => {
        await navigate(page, 'Earnings');
        await page.waitForURL(/\/me\/earnings$/);
        const claim = page.getByRole('button', { name: 'Claim', exact: true });
        // The claim is ready once the service's mirror has seen the epoch accepted: a person
        // reloads the page until it is.
        const deadline = Date.now() + 60_000;
        while (!(await claim.isVisible())) {
          assert.ok(Date.now() < deadline, 'no Claim button 60 s after the epoch was accepted');
          await page.waitForTimeout(1_000);
          await page.reload();
          await page.getByRole('heading', { level: 2, name: 'Claim' }).waitFor();
          await page.getByText(/Claimable now|Nothing to claim yet/).first().waitFor().catch(() => undefined);
        }
        const owed = `Claimable now: ${shown(product.paymentToken, payment)} and ${shown(product.ledger, reward)} ` +
          `(claimed so far: ${shown(product.paymentToken, 0n)} and ${shown(product.ledger, 0n)})`;
        await page.getByRole('listitem').filter({ hasText: owed }).waitFor();
        await fact(page, 'Paid in an epoch').filter({ hasText: exactly(String(labels)) }).waitFor();
        if (part === 'classesAnnotator') await checkPage(page, 'loop-annotator-earnings');
        const sentBefore = annotator.wallet.sent.length;
        const visit = await page.evaluate(() => performance.timeOrigin);
        // C's claim is pushed by someone else while C's page still offers it: the auditor sends
        // the ready transaction of C's public proof bundle from a script ("anyone can claim for
        // you from any wallet"). C's press then finds nothing left on chain and sends nothing.
        const pushedByOther = part === 'spansAnnotator';
        if (pushedByOther) {
          const bundle = await (await fetch(`${product.url}/v1/proofs/${annotator.dev.address}`)).json();
          const friend = walletClientOf(product, devAccount(WHO.auditor));
          const hash = await friend.sendTransaction({ to: bundle.to, data: bundle.data });
          assert.equal((await friend.waitForTransactionReceipt({ hash })).status, 'success', 'the pushed claim');
        }
        await claim.click();
        if (pushedByOther) {
          await page.getByRole('status').filter({ hasText: /^Nothing left to claim: the chain has paid everything this epoch owes you already, so no transaction was sent\./ }).waitFor();
        }
        // Right after the claim, on the same page (no reload): the chain's paid amounts as
        // claimed, nothing claimable, no Claim button; then the service's own record catches up.
        const paid = page.getByRole('listitem').filter({
          hasText: `Claimable now: ${shown(product.paymentToken, 0n)} and ${shown(product.ledger, 0n)} ` +
            `(claimed so far: ${shown(product.paymentToken, payment)} and ${shown(product.ledger, reward)})`,
        });
        await page.getByText('Nothing left to claim: everything this epoch owes you is paid.').waitFor({ timeout: 60_000 });
        await paid.waitFor();
        assert.equal(await claim.count(), 0, 'no Claim button once the chain has paid the claim');
        const settled = pushedByOther
          ? exactly('Nothing left to claim: the chain has paid everything this epoch owes you already, so no transaction was sent.')
          : exactly('Claimed: the tokens are in your wallet.');
        await page.getByRole('status').filter({ hasText: settled }).waitFor({ timeout: 60_000 });
        assert.equal(await claim.count(), 0, 'no Claim button once the service has seen the claim');
        await paid.waitFor();
        assert.equal(await page.evaluate(() => performance.timeOrigin), visit, 'the page was never reloaded');
        assert.equal(annotator.wallet.sent.length - sentBefore, pushedByOther ? 0 : 1, 'the wallet sent one claim transaction, none for a claim paid already');
        if (part === 'classesAnnotator') await checkPage(page, 'loop-annotator-claimed');
        // Later, the page opened anew: what the service says, the claim paid.
        await page.reload();
        await paid.waitFor();
        assert.equal(await claim.count(), 0, 'no Claim button on a later visit either');
        if (part === 'classesAnnotator') {
          const [download] = await Promise.all([
            page.waitForEvent('download'),
            page.getByRole('link', { name: 'Download your proof bundle' }).click(),
          ]);
          bundleFile = path.join(ARTIFACTS, 'loop-proof-bundle.json');
          await download.saveAs(bundleFile);
        }
      });
      const after = {
        payment: await balanceOf(product.paymentToken, annotator.dev.address),
        reward: await balanceOf(product.ledger, annotator.dev.address),
      };
      assert.equal(after.payment - before.payment, payment, `${part}'s dUSD rose by what the page said was claimable`);
      assert.equal(after.reward - before.reward, reward, `${part}'s LABEL rose by what the page said was claimable`);
    });
  }

  test("the auditor verifies annotator A's downloaded proof bundle against the chain's root in the browser", async () => {
    assert.ok(bundleFile, 'runs after annotator A downloaded the bundle');
    const bundle = JSON.parse(readFileSync(bundleFile, 'utf8'));
    const annotatorA = await actor('classesAnnotator');
    assert.equal(String(bundle.account).toLowerCase(), annotatorA.dev.address.toLowerCase(), "the bundle is A's");
    const leaves = bundle.entitlements.length + bundle.labels.length;
    assert.equal(bundle.labels.length, verified.classesAnnotator, 'it proves every label of A the epoch paid');
    const auditor = await actor('auditor');
    const root = /** @type {string} */ (
      await chain.readContract({ address: product.ledger, abi: abiOf('LabelLedger.sol', 'LabelLedger'), functionName: 'payoutRoot' })
    ).toLowerCase();
    await as(auditor, 'verify', async (page) => {
      await takeRole(page, 'auditor');
      await navigate(page, 'Epochs');
      const card = page.getByRole('article', { name: `Epoch ${epoch}`, exact: true });
      await card.getByText('accepted: claimable').waitFor();
      await card.getByText(root).waitFor();
      await checkPage(page, 'loop-auditor');
      await page.getByRole('link', { name: 'Verify a proof against the chain' }).click();
      await page.getByRole('heading', { level: 1, name: 'Verify a proof' }).waitFor();
      await page.getByLabel('Or load a proof bundle file').setInputFiles(bundleFile);
      await page.waitForFunction(() => {
        const area = /** @type {HTMLTextAreaElement | null} */ (document.getElementById('bundle-text'));
        return area !== null && area.value.includes('entitlements');
      });
      await page.getByRole('button', { name: 'Verify against the chain' }).click();
      const verdict = page.getByRole('region', { name: /valid against the root on chain|failed/ });
      await verdict.getByRole('heading', { name: `All ${leaves} leaves are valid against the root on chain` }).waitFor();
      await verdict.getByText(root).waitFor();
      const payment = BigInt(verified.classesAnnotator) * units(product.paymentToken, DATASETS.classes.price);
      await verdict.getByText(shown(product.paymentToken, payment)).first().waitFor();
      await checkPage(page, 'loop-auditor-verify');
    });
  });

  test('every balance an annotator\'s Account page shows equals balanceOf on chain, for dUSD and LABEL', async () => {
    for (const part of /** @type {const} */ (['classesAnnotator', 'boxesAnnotator', 'spansAnnotator'])) {
      const annotator = await actor(part);
      const onChain = [
        shown(product.paymentToken, await balanceOf(product.paymentToken, annotator.dev.address)),
        shown(product.ledger, await balanceOf(product.ledger, annotator.dev.address)),
      ];
      await as(annotator, 'balances', async (page) => {
        // The page reads the chain itself when it opens: what it showed before may show first.
        let onPage = await balancesShown(page);
        for (const until = Date.now() + 10_000; Date.now() < until && JSON.stringify(onPage) !== JSON.stringify(onChain);) {
          await page.waitForTimeout(500);
          onPage = await balancesShown(page);
        }
        assert.deepEqual(onPage, onChain, `${part}'s balances on the Account page are the chain's`);
      });
      assert.notEqual(onChain[0], shown(product.paymentToken, 0n), `${part} was paid`);
    }
  });

  /** A JSON-RPC call to Anvil. */
  async function rpc(/** @type {string} */ method, /** @type {unknown[]} */ params) {
    const response = await fetch(product.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    const body = await response.json();
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result;
  }
});

/** The classes workspace's sentence on show, as [its id, its text]. */
async function shownSentence(/** @type {import('playwright-core').Page} */ page) {
  const any = page.getByText(new RegExp(SENTENCES.map(([, text]) => text).join('|')));
  await any.first().waitFor();
  const shown = [];
  for (const entry of SENTENCES) {
    if (await page.getByText(entry[1], { exact: true }).isVisible()) shown.push(entry);
  }
  assert.equal(shown.length, 1, `one sentence is shown, not ${JSON.stringify(shown)}`);
  return shown[0];
}
