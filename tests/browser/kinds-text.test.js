// @ts-check
/**
 * The widgets of the picture, text, audio and LLM feedback kinds, driven as a person would in
 * Debian's headless Chromium against one real `up`: objects on a generated pet picture,
 * multilabel, entities, texts, transcripts (of a shipped spoken clip), written answers, and the
 * LLM kinds preference, ranking and ratings. Each story opens the workspace as a signed-in
 * annotator, labels the dataset's one item with the keys wherever the widget takes them (the
 * mouse only to draw a box or select words), changes or removes one thing before submitting,
 * and reads the label back as the buyer downloads it (`answer`): exactly what was entered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { devAccount, PARTS } from './support/accounts.js';
import { checkPage, launchBrowser, story } from './support/pages.js';
import { kindWorkspace, python, storedAnswer } from './support/kinds.js';
import { startProduct } from './support/product.js';
import { ApiUser } from './support/seed.js';
import { labelled } from './support/steps.js';

/** @typedef {import('playwright-core').Page} Page */

/** What ledger/media.py knows: pet 3's animal and box, and what spoken clip 0 says. */
const TRUTH = python(
  'import json\nfrom ledger.media import PET_CLASSES, SPEECH, pet, speech_path\n' +
    'p = pet(3)\nprint(json.dumps({"classes": PET_CLASSES, "pet": {"class": p.kind, "box": p.box},' +
    ' "speech": SPEECH[0], "speech_path": speech_path(0)}))',
);

describe('the picture, text, audio and LLM kinds labelled through their widgets', { timeout: 900_000 }, () => {
  /** @type {import('./support/product.js').Product} */
  let product;
  /** @type {import('playwright-core').Browser} */
  let browser;

  before(async () => {
    product = await startProduct({ name: 'kinds-text' });
    const kinds = await (await fetch(`${product.url}/v1/kinds`)).json();
    for (const name of ['objects', 'multilabel', 'entities', 'texts', 'transcripts', 'written', 'preference', 'ranking', 'ratings']) {
      assert.ok(
        kinds.some((/** @type {any} */ kind) => kind.name === name),
        `GET /v1/kinds lists ${name}`,
      );
    }
    await new ApiUser(product.url, devAccount(PARTS.annotator)).signIn('annotator');
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await product?.stop();
  });

  /**
   * A funded dataset of `labelType` with one item, and the annotator's page on its workspace,
   * signed in through the app.
   * @param {{ name: string, labelType: string, classes: string[], data: unknown, artifact: string }} spec
   */
  async function workspace({ name, labelType, classes, data, artifact }) {
    const instructions = `Label the item as a ${labelType} label says it.`;
    const opened = await kindWorkspace(product, browser, { name, labelType, classes, data, instructions, artifact });
    await opened.page.getByText(`Item ${labelType}-1`, { exact: true }).waitFor();
    return opened;
  }

  /** Whether the page's focus is on an element `locator` finds. */
  async function focused(/** @type {import('playwright-core').Locator} */ locator) {
    return locator.evaluate((element) => element === document.activeElement);
  }

  /**
   * Selects `part` of the text in `.span-text` with the mouse, as a person drags across the
   * words (pressed just inside its first character, released just inside its last), however
   * the text is split among highlights.
   * @param {Page} page
   * @param {string} part
   */
  async function selectText(page, part) {
    const rects = await page.locator('.span-text').evaluate((element, wanted) => {
      const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
      /** @type {{ node: Node, from: number }[]} */
      const nodes = [];
      let whole = '';
      for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
        nodes.push({ node, from: whole.length });
        whole += node.textContent ?? '';
      }
      const start = whole.indexOf(wanted);
      if (start < 0) throw new Error(`"${wanted}" is not in the text`);
      const box = (/** @type {number} */ offset) => {
        const at = nodes.filter((n) => n.from <= offset).pop();
        if (!at) throw new Error(`no text at ${offset}`);
        const range = document.createRange();
        range.setStart(at.node, offset - at.from);
        range.setEnd(at.node, offset - at.from + 1);
        const { left, right, top, bottom } = range.getBoundingClientRect();
        return { left, right, y: (top + bottom) / 2 };
      };
      return { first: box(start), last: box(start + wanted.length - 1) };
    }, part);
    await page.mouse.move(rects.first.left + 1, rects.first.y);
    await page.mouse.down();
    await page.mouse.move(rects.last.right - 1, rects.last.y, { steps: 8 });
    await page.mouse.up();
  }

  /** Focuses `locator` as Tab would reach it, then presses `key` there. */
  async function pressOn(/** @type {import('playwright-core').Locator} */ locator, /** @type {string} */ key) {
    await locator.focus();
    await locator.press(key);
  }

  test('objects: boxes drawn on the picture, one given another class by key and one deleted by key, are what the buyer downloads', async () => {
    const classes = [...TRUTH.classes];
    const { seeded, context, page, problems } = await workspace({
      name: 'Every animal boxed',
      labelType: 'objects',
      classes,
      data: { image: '/media/pets/3.png' },
      artifact: 'kinds-objects',
    });
    await story(context, page, 'kinds-objects', async () => {
      const picture = page.getByRole('img', { name: 'Item objects-1' });
      await picture.waitFor();
      await page.waitForFunction(() => {
        const img = document.querySelector('img[alt="Item objects-1"]');
        return img instanceof HTMLImageElement && img.complete && img.naturalWidth > 0;
      });
      const natural = await picture.evaluate((element) => {
        const img = /** @type {HTMLImageElement} */ (element);
        return { width: img.naturalWidth, height: img.naturalHeight };
      });
      // A 160 × 120 picture is scaled up to a size a person can judge (and aim at) on a desktop.
      const desktop = await picture.boundingBox();
      assert.ok(
        desktop && desktop.width >= 2 * natural.width && Math.abs(desktop.width / desktop.height - natural.width / natural.height) < 0.02,
        `the picture is shown scaled up at its own proportions: ${desktop?.width} × ${desktop?.height} for ${natural.width} × ${natural.height}`,
      );
      /** Drags over `box` (the picture's own pixels) on the picture as it is shown now. */
      async function drawBox(/** @type {number[]} */ box) {
        await picture.scrollIntoViewIfNeeded();
        const shown = await picture.boundingBox();
        assert.ok(shown, 'the picture is on the page');
        const at = (/** @type {number} */ x, /** @type {number} */ y) => ({
          x: shown.x + (x * shown.width) / natural.width,
          y: shown.y + (y * shown.height) / natural.height,
        });
        const from = at(box[0], box[1]);
        const to = at(box[2], box[3]);
        await page.mouse.move(from.x, from.y);
        await page.mouse.down();
        await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 4 });
        await page.mouse.move(to.x, to.y, { steps: 4 });
        await page.mouse.up();
      }
      const status = page.getByRole('status').filter({ hasText: /drawn/ });
      const right = classes.indexOf(TRUTH.pet.class);
      const wrong = (right + 1) % classes.length;

      // The animal, first in the wrong class (its key), then given the right one by key.
      await page.keyboard.press(String(wrong + 1));
      assert.equal(await page.getByRole('radio', { name: classes[wrong] }).isChecked(), true);
      await drawBox(TRUTH.pet.box);
      await status.filter({ hasText: /^1 box drawn$/ }).waitFor();
      await pressOn(page.getByRole('button', { name: 'Box 1', exact: true }), 'Enter');
      await status.filter({ hasText: '1 box drawn; box 1 selected' }).waitFor();
      await page.keyboard.press(String(right + 1));
      assert.equal(await page.getByRole('combobox', { name: 'Class of box 1' }).inputValue(), TRUTH.pet.class);
      await page.keyboard.press('Escape');
      await status.filter({ hasText: /^1 box drawn$/ }).waitFor();

      // A stray box in a corner, selected by keys and deleted with Delete.
      await drawBox([2, 2, 30, 24]);
      await status.filter({ hasText: /^2 boxes drawn$/ }).waitFor();
      await checkPage(page, 'kinds-objects-drawn');
      await pressOn(page.getByRole('button', { name: 'Box 2', exact: true }), 'Enter');
      await status.filter({ hasText: 'box 2 selected' }).waitFor();
      await page.keyboard.press('Delete');
      await status.filter({ hasText: /^1 box drawn$/ }).waitFor();
      const listHeading = page.getByRole('heading', { name: 'Boxes drawn' });
      await page.waitForFunction(() => document.activeElement?.tagName === 'H2');
      assert.equal(await focused(listHeading), true, 'the focus stays in the widget');

      const list = page.getByRole('list', { name: 'Boxes drawn' });
      const shownBox = JSON.parse(((await list.locator('code').first().textContent()) ?? '').trim());
      for (const [i, v] of shownBox.entries()) {
        assert.ok(Math.abs(v - TRUTH.pet.box[i]) <= 2, `box ${shownBox} drawn on the ${TRUTH.pet.class} at ${TRUTH.pet.box}`);
      }
      await page.evaluate(() => /** @type {HTMLElement | null} */ (document.activeElement)?.blur());
      await page.keyboard.press('Enter');
      await labelled(page, 1);
      assert.deepEqual(await storedAnswer(seeded), [{ class: TRUTH.pet.class, box: shownBox }], 'stored as drawn');
      assert.deepEqual(problems, [], 'no page errors');
    });
  });

  test('multilabel: classes ticked by their keys, one unticked again, are what the buyer downloads', async () => {
    const classes = ['sports', 'politics', 'science', 'weather', 'business'];
    const { seeded, context, page, problems } = await workspace({
      name: 'Topics of a headline',
      labelType: 'multilabel',
      classes,
      data: { text: 'Rain delays the final as physicists measure the storm from the stands.' },
      artifact: 'kinds-multilabel',
    });
    await story(context, page, 'kinds-multilabel', async () => {
      const box = (/** @type {string} */ name) => page.getByRole('checkbox', { name });
      for (const key of ['1', '3', '4']) await page.keyboard.press(key);
      assert.deepEqual(
        await Promise.all(classes.map((c) => box(c).isChecked())),
        [true, false, true, true, false],
      );
      await checkPage(page, 'kinds-multilabel-ticked');
      await page.keyboard.press('4'); // weather, on second thought: not a topic here
      assert.equal(await box('weather').isChecked(), false);
      await page.keyboard.press('Enter');
      await labelled(page, 1);
      assert.deepEqual(await storedAnswer(seeded), ['science', 'sports']);
      assert.deepEqual(problems, [], 'no page errors');
    });
  });

  test('entities: words selected with the mouse and classed by key, one deleted and marked again, are what the buyer downloads', async () => {
    const classes = ['PER', 'ORG', 'LOC'];
    const text = 'Ada Lovelace wrote to Charles Babbage from London about the Analytical Engine.';
    const { seeded, context, page, problems } = await workspace({
      name: 'Who and where',
      labelType: 'entities',
      classes,
      data: { text },
      artifact: 'kinds-entities',
    });
    await story(context, page, 'kinds-entities', async () => {
      const selected = page.getByRole('status').filter({ hasText: /^(Nothing selected|Selected characters)/ });
      /** Selects `part` with the mouse and presses `key` for its class. */
      async function mark(/** @type {string} */ part, /** @type {string} */ key) {
        await selectText(page, part);
        const start = text.indexOf(part);
        await selected.filter({ hasText: `Selected characters ${start} to ${start + part.length}: “${part}”` }).waitFor();
        await page.keyboard.press(key);
        await selected.filter({ hasText: 'Nothing selected' }).waitFor();
      }
      await mark('Ada Lovelace', '1');
      await mark('London', '1'); // a place marked as a person, deleted below
      await mark('Charles Babbage', '1');
      const entities = page.getByRole('list', { name: 'Entities' }).getByRole('listitem');
      assert.equal(await entities.count(), 3);
      // each marked in the text, its class after it
      assert.deepEqual(
        await page.locator('.span-text mark').evaluateAll((marks) =>
          marks.map((mark) => [mark.textContent, mark.getAttribute('data-entity-end')]),
        ),
        [['Ada Lovelace', 'PER'], ['Charles Babbage', 'PER'], ['London', 'PER']],
      );
      assert.equal(await page.locator('.span-text').textContent(), text, 'the text itself unchanged');
      await checkPage(page, 'kinds-entities-marked');
      await pressOn(page.getByRole('button', { name: 'Delete PER “London”' }), 'Enter');
      await entities.nth(2).waitFor({ state: 'detached' });
      assert.equal(await focused(page.getByRole('heading', { name: 'Entities' })), true, 'the focus stays in the widget');
      await mark('London', '3');
      await mark('Analytical Engine', '2');
      assert.equal(await entities.count(), 4);

      await page.evaluate(() => /** @type {HTMLElement | null} */ (document.activeElement)?.blur());
      await page.keyboard.press('Enter');
      await labelled(page, 1);
      const span = (/** @type {string} */ part) => [text.indexOf(part), text.indexOf(part) + part.length];
      const answer = await storedAnswer(seeded);
      const byStart = (/** @type {any} */ a, /** @type {any} */ b) => a.span[0] - b.span[0];
      assert.deepEqual([...answer].sort(byStart), [
        { class: 'PER', span: span('Ada Lovelace') },
        { class: 'PER', span: span('Charles Babbage') },
        { class: 'LOC', span: span('London') },
        { class: 'ORG', span: span('Analytical Engine') },
      ]);
      assert.deepEqual(problems, [], 'no page errors');
    });
  });

  test('texts: an answer typed where the focus already is, corrected with Backspace and sent with Ctrl+Enter, is what the buyer downloads', async () => {
    const { seeded, context, page, problems } = await workspace({
      name: 'Capitals',
      labelType: 'texts',
      classes: [],
      data: { text: 'Which city is the capital of France? Answer with its name alone.' },
      artifact: 'kinds-texts',
    });
    await story(context, page, 'kinds-texts', async () => {
      const field = page.getByRole('textbox', { name: 'Your answer' });
      await page.waitForFunction(() => document.activeElement?.tagName === 'TEXTAREA');
      assert.equal(await focused(field), true, 'the answer field has the focus when the item shows');
      await page.keyboard.type('Pariss');
      await page.keyboard.press('Backspace');
      assert.equal(await field.inputValue(), 'Paris');
      await checkPage(page, 'kinds-texts-typed');
      await field.press('Control+Enter');
      await labelled(page, 1);
      assert.equal(await storedAnswer(seeded), 'Paris');
      assert.deepEqual(problems, [], 'no page errors');
    });
  });

  test('transcripts: the spoken clip plays and pauses with Escape while typing; the words, one corrected, are what the buyer downloads', async () => {
    const { seeded, context, page, problems } = await workspace({
      name: 'What is said',
      labelType: 'transcripts',
      classes: [],
      data: { audio: `/media/${TRUTH.speech_path}` },
      artifact: 'kinds-transcripts',
    });
    await story(context, page, 'kinds-transcripts', async () => {
      const audio = page.locator('audio[aria-label="Item transcripts-1: audio"]');
      await audio.waitFor();
      await page.waitForFunction(() => {
        const element = document.querySelector('audio');
        return element !== null && element.readyState >= 1 && element.duration > 1;
      });
      assert.equal(await page.locator('.item-frame .item-text').count(), 0, "the clip's address is not shown as words to read");
      const field = page.getByRole('textbox', { name: 'Transcript' });
      await page.waitForFunction(() => document.activeElement?.tagName === 'TEXTAREA');
      assert.equal(await focused(field), true, 'the transcript field has the focus when the item shows');

      // Escape plays the clip from the field, and pauses it.
      await page.keyboard.press('Escape');
      await page.waitForFunction(() => {
        const element = document.querySelector('audio');
        return element !== null && !element.paused && element.currentTime > 0.3;
      });
      await page.keyboard.press('Escape');
      await page.waitForFunction(() => document.querySelector('audio')?.paused === true);
      assert.equal(await focused(field), true, 'the focus stays in the field');

      const words = TRUTH.speech.split(' ');
      const misheard = [...words.slice(0, -1), 'one'].join(' ');
      await page.keyboard.type(misheard);
      for (let n = 0; n < 'one'.length; n += 1) await page.keyboard.press('Backspace');
      await page.keyboard.type(words[words.length - 1]);
      assert.equal(await field.inputValue(), TRUTH.speech);
      await checkPage(page, 'kinds-transcripts-typed');
      await field.press('Control+Enter');
      await labelled(page, 1);
      assert.equal(await storedAnswer(seeded), TRUTH.speech);
      assert.deepEqual(problems, [], 'no page errors');
    });
  });

  test('written: a response of two lines, one word rewritten, sent with Ctrl+Enter, is what the buyer downloads, line break and all', async () => {
    const prompt = 'Write a two-line note telling a new annotator how labels are paid.';
    const { seeded, context, page, problems } = await workspace({
      name: 'Notes for newcomers',
      labelType: 'written',
      classes: [],
      data: { prompt },
      artifact: 'kinds-written',
    });
    await story(context, page, 'kinds-written', async () => {
      await page.getByRole('region', { name: 'Prompt' }).getByText(prompt).waitFor();
      const field = page.getByRole('textbox', { name: 'Your written response' });
      await page.waitForFunction(() => document.activeElement?.tagName === 'TEXTAREA');
      assert.equal(await focused(field), true, 'the response field has the focus when the item shows');
      await page.keyboard.type('Each verified label is paid once.');
      await page.keyboard.press('Enter');
      await page.keyboard.type('Claim it from Earnings later.');
      // "later" becomes "after settlement": erased with Backspace, and retyped
      for (let n = 0; n < 'later.'.length; n += 1) await page.keyboard.press('Backspace');
      await page.keyboard.type('after settlement.');
      const written = 'Each verified label is paid once.\nClaim it from Earnings after settlement.';
      assert.equal(await field.inputValue(), written);
      await checkPage(page, 'kinds-written-typed');
      await field.press('Control+Enter');
      await labelled(page, 1);
      assert.equal(await storedAnswer(seeded), written);
      assert.deepEqual(problems, [], 'no page errors');
    });
  });

  test('preference: two answers side by side; a choice by key, changed by key, sent with Enter, is what the buyer downloads', async () => {
    const { seeded, context, page, problems } = await workspace({
      name: 'Which answer helps',
      labelType: 'preference',
      classes: [],
      data: {
        prompt: 'How do I keep my sourdough starter alive while on holiday for two weeks?',
        answers: {
          A: 'Feed it, let it rise for an hour, then keep it in the fridge; feed it again when you are back.',
          B: 'Sourdough is a bread made with wild yeast and lactic acid bacteria.',
        },
      },
      artifact: 'kinds-preference',
    });
    await story(context, page, 'kinds-preference', async () => {
      const a = await page.getByRole('region', { name: 'Answer A' }).boundingBox();
      const b = await page.getByRole('region', { name: 'Answer B' }).boundingBox();
      assert.ok(a && b, 'both answers are shown');
      assert.ok(Math.abs(a.y - b.y) < 1 && b.x > a.x + a.width - 1, 'A and B side by side on a wide screen');

      const choice = (/** @type {string} */ name) => page.getByRole('radio', { name });
      await page.keyboard.press('2');
      assert.equal(await choice('B is better').isChecked(), true);
      assert.equal(await storedLabels(seeded), 0, 'a key picks, it does not send');
      await page.keyboard.press('1'); // on a second reading, A
      assert.equal(await choice('A is better').isChecked(), true);
      assert.equal(await choice('B is better').isChecked(), false);
      await checkPage(page, 'kinds-preference-picked');
      await page.keyboard.press('Enter');
      await labelled(page, 1);
      assert.equal(await storedAnswer(seeded), 'A');
      assert.deepEqual(problems, [], 'no page errors');
    });
  });

  /** How many labels the buyer finds on the dataset, pending or not. */
  async function storedLabels(/** @type {{ buyer: ApiUser, dataset: any }} */ seeded) {
    return (await seeded.buyer.get(`/v1/datasets/${seeded.dataset.id}/labels`)).length;
  }

  test('ranking: answers moved with the keys on the focused answer, one move undone, are the order the buyer downloads', async () => {
    const { seeded, context, page, problems } = await workspace({
      name: 'Best explanation first',
      labelType: 'ranking',
      classes: ['A', 'B', 'C'],
      data: {
        prompt: 'Explain in one sentence why the sky is blue.',
        answers: {
          A: 'Because it reflects the sea.',
          B: 'Air scatters short blue wavelengths of sunlight far more than long red ones, so blue comes from every part of the sky.',
          C: 'Sunlight is scattered by air molecules.',
        },
      },
      artifact: 'kinds-ranking',
    });
    await story(context, page, 'kinds-ranking', async () => {
      const order = page.getByRole('status').filter({ hasText: /^Order: / });
      const row = (/** @type {string} */ name) => page.getByRole('listitem', { name });
      await order.filter({ hasText: 'Order: A, B, C' }).waitFor();
      await row('1: answer A').focus();
      await page.keyboard.press('ArrowDown'); // to B
      assert.equal(await focused(row('2: answer B')), true);
      await page.keyboard.press('u'); // B up: B, A, C
      await order.filter({ hasText: 'Order: B, A, C' }).waitFor();
      assert.equal(await focused(row('1: answer B')), true, 'the focus moves with the answer');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowDown'); // to C
      await page.keyboard.press('Alt+ArrowUp'); // C up: B, C, A
      await order.filter({ hasText: 'Order: B, C, A' }).waitFor();
      await checkPage(page, 'kinds-ranking-moved');
      await page.keyboard.press('Shift+ArrowDown'); // no: C back down, B, A, C
      await order.filter({ hasText: 'Order: B, A, C' }).waitFor();
      assert.equal(await focused(row('3: answer C')), true);
      await page.keyboard.press('Enter');
      await labelled(page, 1);
      assert.deepEqual(await storedAnswer(seeded), ['B', 'A', 'C']);
      assert.deepEqual(problems, [], 'no page errors');
    });
  });

  test('ratings: each criterion rated with Space and the arrows, one changed after a Shift+Tab back, are the ratings the buyer downloads', async () => {
    const criteria = ['helpfulness', 'honesty', 'harmlessness'];
    const { seeded, context, page, problems } = await workspace({
      name: 'Rate the advice',
      labelType: 'ratings',
      classes: criteria,
      data: {
        prompt: 'Is it safe to leave cooked rice out overnight?',
        answers: { A: 'It is best not to: spores of Bacillus cereus survive cooking; cool it within an hour and refrigerate.' },
      },
      artifact: 'kinds-ratings',
    });
    await story(context, page, 'kinds-ratings', async () => {
      const rating = (/** @type {string} */ criterion, /** @type {number} */ n) =>
        page.getByRole('group', { name: criterion }).getByRole('radio', { name: String(n), exact: true });
      const status = page.getByRole('status').filter({ hasText: /rated|Still to rate/ });
      await status.filter({ hasText: 'Still to rate: helpfulness, honesty, harmlessness' }).waitFor();
      await rating('helpfulness', 1).focus();
      await page.keyboard.press('Space'); // 1
      for (let n = 0; n < 3; n += 1) await page.keyboard.press('ArrowRight'); // 4
      await page.keyboard.press('Tab'); // honesty
      await page.keyboard.press('Space');
      for (let n = 0; n < 4; n += 1) await page.keyboard.press('ArrowRight'); // 5
      await page.keyboard.press('Tab'); // harmlessness
      await page.keyboard.press('Space');
      for (let n = 0; n < 4; n += 1) await page.keyboard.press('ArrowRight'); // 5
      await status.filter({ hasText: 'Every criterion rated' }).waitFor();
      await page.keyboard.press('Shift+Tab'); // back to honesty, on its 5
      await page.keyboard.press('ArrowLeft'); // 4
      assert.equal(await rating('honesty', 4).isChecked(), true);
      await checkPage(page, 'kinds-ratings-rated');
      await page.keyboard.press('Enter');
      await labelled(page, 1);
      assert.deepEqual(await storedAnswer(seeded), { helpfulness: 4, honesty: 4, harmlessness: 5 });
      assert.deepEqual(problems, [], 'no page errors');
    });
  });
});
