// @ts-check
/**
 * The widgets of the image kinds beyond boxes, driven as a person would in Debian's headless
 * Chromium against a real `up`: polygons, keypoints and masks on the generated pet pictures
 * (ledger/media.py, served at /media/pets/). Each story labels one item with the mouse and keys
 * (with an edit and a delete), submits, and reads the label back as the buyer downloads it
 * (`answer`): what the page drew, near where ledger/media.py drew the animal. The masks widget's
 * run-length encoder (web/src/annotator/kinds/rle.ts) is first checked on its own, against worked
 * examples and pycocotools, the reference the masks kind stores by.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import ts from 'typescript';
import { checkPage, launchBrowser, story } from './support/pages.js';
import { REPO_ROOT } from './support/paths.js';
import { drag, kindWorkspace, python, similarity, storedAnswer } from './support/kinds.js';
import { startProduct } from './support/product.js';
import { labelled } from './support/steps.js';

/** @typedef {import('playwright-core').Page} Page */
/** @typedef {[number, number]} Point */

/** Pets 0 (a cat), 1 (a dog) and 3 (a dog) as ledger/media.py drew them: box, centre, radius. */
const PETS = python(
  'import json\nfrom ledger.media import pet, _plan, IMAGE_WIDTH, IMAGE_HEIGHT\n' +
    'print(json.dumps({"size": [IMAGE_WIDTH, IMAGE_HEIGHT], "pets": {n: {"kind": pet(n).kind, "box": pet(n).box,' +
    ' "cx": _plan(n).cx, "cy": _plan(n).cy, "r": _plan(n).radius} for n in (0, 1, 3)}}))',
);

/**
 * For each case, whether pycocotools reads its `rle` as exactly its `mask` (rows of 0 and 1) and
 * encodes the mask to the same runs (its compressed counts of both equal), and what the masks
 * kind stores for the `rle`. One Python for all the cases.
 * @param {{ rle: { size: number[], counts: number[] }, mask: number[][] }[]} cases
 * @returns {{ decodes: boolean, encodes: boolean, stored: { size: number[], counts: number[] } }[]}
 */
function cocoReads(cases) {
  return python(
    'import json, sys, warnings\nimport numpy as np\nfrom pycocotools import mask as coco\n' +
      'from ledger.kinds import kind_named\n' +
      'warnings.simplefilter("ignore")\n' +
      'def check(case):\n' +
      '    rle = case["rle"]; m = np.asarray(case["mask"], dtype=np.uint8)\n' +
      '    ours = coco.frPyObjects(rle, *rle["size"])\n' +
      '    theirs = coco.encode(np.asfortranarray(m))\n' +
      '    return {"decodes": bool(np.array_equal(coco.decode(ours), m)), "encodes": ours["counts"] == theirs["counts"],' +
      ' "stored": json.loads(kind_named("masks").normalize(json.dumps(rle)))}\n' +
      'print(json.dumps([check(case) for case in json.loads(sys.stdin.read())]))',
    [],
    JSON.stringify(cases),
  );
}

/** rle.ts, compiled to JavaScript as the app's build compiles it, and loaded as a module. */
async function loadRle() {
  const source = readFileSync(path.join(REPO_ROOT, 'web', 'src', 'annotator', 'kinds', 'rle.ts'), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
  });
  return /** @type {{ encodeRle: (mask: ArrayLike<number>, width: number, height: number) => { size: [number, number], counts: number[] }, decodeRle: (rle: { size: [number, number], counts: number[] }) => Uint8Array, rleArea: (rle: { size: [number, number], counts: number[] }) => number }} */ (
    await import(`data:text/javascript;base64,${Buffer.from(outputText).toString('base64')}`)
  );
}

test('rle.ts encodes a mask as pycocotools does: column by column, outside first, worked examples and random masks', async () => {
  const { encodeRle, decodeRle, rleArea } = await loadRle();
  /** @type {[number[][], number[]][]} rows of the mask, and its runs worked by hand */
  const worked = [
    // 2 high, 3 wide; read down each column: 0 0 | 1 0 | 1 1
    [[[0, 1, 1], [0, 0, 1]], [2, 1, 1, 2]],
    [[[1]], [0, 1]],
    [[[0]], [1]],
    [[[0, 0], [0, 0]], [4]],
    [[[1, 1], [1, 1]], [0, 4]],
    // 3 high, 2 wide: column 0 is 1 0 1, column 1 is 1 1 0
    [[[1, 1], [0, 1], [1, 0]], [0, 1, 1, 3, 1]],
    // a single row: runs along it
    [[[0, 0, 1, 1, 1, 0, 1]], [2, 3, 1, 1]],
  ];
  /** @type {{ rle: { size: [number, number], counts: number[] }, mask: number[][], what: string }[]} */
  const cases = [];
  for (const [rows, counts] of worked) {
    const height = rows.length;
    const width = rows[0]?.length ?? 0;
    const rle = encodeRle(rows.flat(), width, height);
    assert.deepEqual(rle, { size: [height, width], counts }, `${JSON.stringify(rows)} by hand`);
    assert.deepEqual([...decodeRle(rle)], rows.flat(), 'decodes back');
    cases.push({ rle, mask: rows, what: JSON.stringify(rows) });
  }
  // random masks, noise and blobs, against pycocotools
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (const [width, height, kind] of /** @type {const} */ ([
    [5, 3, 'noise'],
    [1, 9, 'noise'],
    [9, 1, 'noise'],
    [17, 11, 'blob'],
    [32, 24, 'noise'],
    [40, 30, 'blob'],
  ])) {
    const rows = Array.from({ length: height }, (_, y) =>
      Array.from({ length: width }, (_, x) =>
        kind === 'noise'
          ? Number(random() < 0.4)
          : Number(((x - width / 2) / (width / 3)) ** 2 + ((y - height / 3) / (height / 4)) ** 2 <= 1),
      ),
    );
    const rle = encodeRle(rows.flat(), width, height);
    assert.equal(rle.counts.reduce((a, b) => a + b, 0), width * height, 'the runs cover every pixel');
    assert.ok(rle.counts.slice(1).every((n) => n > 0), 'no empty run after the first');
    assert.equal(rleArea(rle), rows.flat().filter(Boolean).length, 'its area is the pixels inside');
    cases.push({ rle, mask: rows, what: `the ${width}x${height} ${kind} mask` });
  }
  const coco = cocoReads(cases);
  cases.forEach(({ rle, what }, n) => {
    assert.ok(coco[n]?.decodes, `pycocotools decodes ${what} as it was`);
    assert.ok(coco[n]?.encodes, `and encodes ${what} to the same runs`);
    assert.deepEqual(coco[n]?.stored, rle, `the masks kind stores the runs of ${what} unchanged`);
  });
  assert.throws(() => encodeRle([1, 0], 3, 1), RangeError);
});

describe('the image kinds labelled through their widgets', { timeout: 900_000 }, () => {
  /** @type {import('./support/product.js').Product} */
  let product;
  /** @type {import('playwright-core').Browser} */
  let browser;

  before(async () => {
    product = await startProduct({ name: 'kinds-image' });
    const kinds = await (await fetch(`${product.url}/v1/kinds`)).json();
    for (const name of ['polygons', 'keypoints', 'masks']) {
      assert.ok(
        kinds.some((/** @type {any} */ kind) => kind.name === name),
        `GET /v1/kinds lists ${name}`,
      );
    }
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await product?.stop();
  });

  /**
   * A funded dataset of `labelType` with one pet picture, and the annotator's page on its
   * workspace, signed in through the app.
   * @param {string} name
   * @param {string} labelType
   * @param {string[]} classes
   * @param {number} pet
   * @param {string} artifact
   */
  async function workspace(name, labelType, classes, pet, artifact) {
    const instructions = classes.length ? `Mark the animal: ${classes.join(', ')}.` : 'Paint the animal.';
    const data = { image: `/media/pets/${pet}.png` };
    return kindWorkspace(product, browser, { name, labelType, classes, data, instructions, artifact });
  }

  /**
   * Where a picture pixel is on the screen, through the layer laid over the picture (its
   * `data-size` is the picture's natural size), as the page is scrolled now.
   * @param {Page} page
   * @param {string} selector the layer
   */
  async function pictureMap(page, selector) {
    const layer = page.locator(selector);
    await layer.waitFor();
    await layer.scrollIntoViewIfNeeded();
    const [width, height] = ((await layer.getAttribute('data-size')) ?? '').split(' ').map(Number);
    const shown = await layer.boundingBox();
    assert.ok(shown && width > 0 && height > 0, `${selector} is on the page with its size`);
    assert.deepEqual([width, height], PETS.size, 'the layer has the picture natural size');
    return {
      /** The screen point of picture pixel position (x, y). */
      at: (/** @type {number} */ x, /** @type {number} */ y) => ({ x: shown.x + (x / width) * shown.width, y: shown.y + (y / height) * shown.height }),
      /** Picture pixels per screen pixel. */
      unit: width / shown.width,
    };
  }

  /** Leaves whatever button has the focus, so Enter goes to the widget, not to the button. */
  async function blur(/** @type {Page} */ page) {
    await page.evaluate(() => /** @type {HTMLElement | null} */ (document.activeElement)?.blur());
  }

  /**
   * Whether `a` and `b` are within `tolerance` picture pixels of each other, coordinate by
   * coordinate.
   * @param {number[]} a
   * @param {number[]} b
   * @param {number} tolerance
   */
  function near(a, b, tolerance) {
    return a.length === b.length && a.every((v, i) => Math.abs(v - (b[i] ?? NaN)) <= tolerance);
  }

  test('polygons: vertices placed by clicks and closed on the first; one dragged, one moved by keys, one deleted; a crossed polygon refused by the service; what the buyer downloads is what was drawn', async () => {
    const classes = ['cat', 'dog', 'bird'];
    const pet = PETS.pets['1'];
    assert.equal(pet.kind, 'dog');
    const { seeded, context, page, problems } = await workspace('Outline the pets', 'polygons', classes, 1, 'kinds-polygons');
    await story(context, page, 'kinds-polygons', async () => {
      const status = page.getByRole('status').filter({ hasText: 'drawn' });
      let map = await pictureMap(page, 'svg.polygons-layer');
      await checkPage(page, 'kinds-polygons-workspace');
      map = await pictureMap(page, 'svg.polygons-layer');
      /** The polygons as the layer draws them (each one's outline), in picture pixels. */
      const drawnPolygons = async () =>
        page.locator('svg.polygons-layer g.polygon').evaluateAll((groups) =>
          groups.map((g) =>
            (g.querySelector('polygon')?.getAttribute('points') ?? '')
              .split(' ')
              .map((pair) => pair.split(',').map(Number)),
          ),
        );
      const click = async (/** @type {number} */ x, /** @type {number} */ y) => {
        const p = map.at(x, y);
        await page.mouse.click(p.x, p.y);
      };

      // The dog (key 2): its box's corners, the second 8 px off to the upper right, and a fifth
      // vertex pulled down off its bottom edge; closed by a click on the first vertex.
      const [x0, y0, x1, y1] = pet.box;
      await page.keyboard.press('2');
      await click(x0, y0);
      await click(x1 + 8, y0 - 6);
      await click(x1, y1);
      await click((x0 + x1) / 2, y1 + 12 > 119 ? 119 : y1 + 12);
      await click(x0, y1);
      await status.filter({ hasText: 'a polygon in progress with 5 vertices' }).waitFor();
      await click(x0 + 0.3, y0 + 0.3);
      await status.filter({ hasText: '1 polygon drawn; polygon 1 selected' }).waitFor();
      await checkPage(page, 'kinds-polygons-closed');
      map = await pictureMap(page, 'svg.polygons-layer');
      let [outline] = await drawnPolygons();
      assert.equal(outline.length, 5);
      assert.ok(near(outline[0], [x0, y0], 0.6 * map.unit + 0.1), `vertex 1 at ${outline[0]}, clicked at ${[x0, y0]}`);

      // 1. A drag moves vertex 2 onto the box's corner.
      await drag(page, map.at(outline[1][0], outline[1][1]), map.at(x1, y0));
      await status.filter({ hasText: 'vertex 2 at' }).waitFor();
      [outline] = await drawnPolygons();
      assert.ok(near(outline[1], [x1, y0], 0.6 * map.unit + 0.1), `vertex 2 dragged to ${outline[1]}`);

      // 2. Keys: . steps to vertex 3, the arrows move it 2 px left and (Shift) 10 px up, then
      //    10 px down again.
      await blur(page);
      await page.keyboard.press('Escape');
      await status.filter({ hasText: /polygon 1 selected(?!, vertex)/ }).waitFor();
      for (let n = 0; n < 3; n += 1) await page.keyboard.press('.');
      await status.filter({ hasText: 'vertex 3 at' }).waitFor();
      const third = outline[2];
      await page.keyboard.press('ArrowLeft');
      await page.keyboard.press('ArrowLeft');
      await page.keyboard.press('Shift+ArrowUp');
      await page.keyboard.press('ArrowDown');
      [outline] = await drawnPolygons();
      const moved = [Math.round((third[0] - 2) * 10) / 10, Math.round((third[1] - 9) * 10) / 10];
      assert.deepEqual(outline[2], moved, 'vertex 3 moved by the arrow keys');
      assert.equal(Number(await page.getByRole('spinbutton', { name: 'x of vertex 3' }).inputValue()), moved[0]);
      assert.equal(Number(await page.getByRole('spinbutton', { name: 'y of vertex 3' }).inputValue()), moved[1]);

      // 3. The vertex pulled off the bottom edge (vertex 4): a click selects it, Delete removes it.
      const stray = outline[3];
      const strayAt = map.at(stray[0], stray[1]);
      await page.mouse.click(strayAt.x, strayAt.y);
      await status.filter({ hasText: 'vertex 4 at' }).waitFor();
      await page.keyboard.press('Delete');
      await status.filter({ hasText: 'Vertex 4 of polygon 1 deleted' }).waitFor();
      [outline] = await drawnPolygons();
      assert.equal(outline.length, 4, 'four vertices left');

      // 4. A polygon started and dropped with Escape; another closed with Enter and deleted
      //    with Delete.
      await page.keyboard.press('Escape');
      await click(20, 100);
      await click(40, 100);
      await status.filter({ hasText: 'in progress with 2 vertices' }).waitFor();
      await page.keyboard.press('Escape');
      await status.filter({ hasText: 'The polygon in progress was dropped' }).waitFor();
      await click(100, 95);
      await click(140, 95);
      await click(120, 115);
      await page.keyboard.press('Enter');
      await status.filter({ hasText: '2 polygons drawn; polygon 2 selected' }).waitFor();
      await page.keyboard.press('Delete');
      await status.filter({ hasText: 'Polygon 2 deleted' }).waitFor();

      // 5. A crossed polygon (a bow tie): the list warns, and the service refuses it, saying why.
      await page.keyboard.press('3');
      await click(100, 95);
      await click(140, 115);
      await click(140, 95);
      await click(100, 115);
      await page.keyboard.press('Enter');
      await page.getByText(/Not a simple polygon \(edges 1 and 3 cross or touch\)/).waitFor();
      await page.getByRole('button', { name: 'Submit the polygons' }).click();
      const refusal = page.getByRole('alert').filter({ hasText: 'not a simple polygon' });
      await refusal.waitFor();
      await checkPage(page, 'kinds-polygons-refused');
      await page.getByRole('button', { name: 'Delete polygon 2' }).click();
      await status.filter({ hasText: /^1 polygon drawn/ }).waitFor();
      // the focus, on the deleted row's button, stays in the widget: at the list's heading
      await page.waitForFunction(() => document.activeElement?.textContent === 'Polygons drawn');

      // The class of polygon 1 in the list is the dog's; Enter sends.
      assert.equal(await page.getByRole('combobox', { name: 'Class of polygon 1' }).inputValue(), 'dog');
      [outline] = await drawnPolygons();
      await blur(page);
      await page.keyboard.press('Escape');
      await page.keyboard.press('Enter');
      await labelled(page, 1);

      const answer = await storedAnswer(seeded);
      assert.deepEqual(answer, [{ class: 'dog', points: outline }], 'stored as drawn');
      const truth = [{ class: 'dog', points: [[x0, y0], [x1, y0], [x1, y1], [x0, y1]] }];
      const agreement = similarity('polygons', answer, truth, classes);
      assert.equal(agreement, 1, 'the service counts it as agreeing with the animal box outline');
      // the refusal's answer is logged by the browser as a failed request; nothing else may be
      assert.deepEqual(problems.filter((p) => !/status of 4\d\d/.test(p)), [], 'no page errors');
    });
  });

  test('keypoints: placed by clicks, one dragged, one nudged by arrows, one taken away and marked not visible; Tab and N walk them; what the buyer downloads is where they were put', async () => {
    const names = ['left_eye', 'right_eye', 'nose', 'tail'];
    const pet = PETS.pets['0'];
    assert.equal(pet.kind, 'cat');
    const { cx, cy, r } = pet;
    /** Where ledger/media.py drew the cat's eyes and nose. */
    const truth = {
      left_eye: [cx - 0.38 * r, cy - 0.15 * r],
      right_eye: [cx + 0.38 * r, cy - 0.15 * r],
      nose: [cx, cy + 0.26 * r],
    };
    const { seeded, context, page, problems } = await workspace('Find the cat face', 'keypoints', names, 0, 'kinds-keypoints');
    await story(context, page, 'kinds-keypoints', async () => {
      const status = page.getByRole('status').filter({ hasText: 'keypoints placed' });
      let map = await pictureMap(page, 'svg.keypoints-layer');
      await checkPage(page, 'kinds-keypoints-workspace');
      map = await pictureMap(page, 'svg.keypoints-layer');
      const current = (/** @type {string} */ name) => page.getByRole('radio', { name, exact: true });
      const stateOf = (/** @type {string} */ name) =>
        page.locator('.keypoints-list li').filter({ has: current(name) }).locator('.keypoints-state').textContent();
      /** The keypoint's place as the list shows it. */
      const placeOf = async (/** @type {string} */ name) => {
        const match = /^at \((-?[\d.]+), (-?[\d.]+)\)$/.exec((await stateOf(name)) ?? '');
        assert.ok(match, `${name} is placed: ${await stateOf(name)}`);
        return [Number(match[1]), Number(match[2])];
      };
      const tolerance = 0.6 * map.unit + 0.1;

      // Tab, while the picture has the focus, walks the keypoints; Shift+Tab walks back.
      const picture = page.getByRole('group', { name: /^Item keypoints-1: place left_eye here$/ });
      await picture.focus();
      await page.keyboard.press('Tab');
      assert.ok(await current('right_eye').isChecked(), 'Tab moved on to right_eye');
      await page.keyboard.press('Shift+Tab');
      assert.ok(await current('left_eye').isChecked(), 'Shift+Tab came back to left_eye');

      // left_eye: placed 6 px off, then dragged onto the eye.
      let p = map.at(truth.left_eye[0] + 6, truth.left_eye[1] + 4);
      await page.mouse.click(p.x, p.y);
      await status.filter({ hasText: /^1 of 4 keypoints placed; current: left_eye/ }).waitFor();
      const off = await placeOf('left_eye');
      await drag(page, map.at(off[0], off[1]), map.at(truth.left_eye[0], truth.left_eye[1]));
      await status.filter({ hasText: 'left_eye (at' }).waitFor();
      assert.ok(near(await placeOf('left_eye'), truth.left_eye, tolerance), `left_eye dragged to ${await placeOf('left_eye')}`);

      // right_eye (N): placed 3 px to its left, nudged 3 px right by the arrow keys.
      await blur(page);
      await page.keyboard.press('n');
      assert.ok(await current('right_eye').isChecked());
      p = map.at(truth.right_eye[0] - 3, truth.right_eye[1]);
      await page.mouse.click(p.x, p.y);
      const clicked = await placeOf('right_eye');
      for (let n = 0; n < 3; n += 1) await page.keyboard.press('ArrowRight');
      assert.deepEqual(await placeOf('right_eye'), [Math.round((clicked[0] + 3) * 10) / 10, clicked[1]], 'nudged 3 px right');
      assert.ok(near(await placeOf('right_eye'), truth.right_eye, tolerance + 0.1));

      // nose (N): a click.
      await page.keyboard.press('n');
      p = map.at(truth.nose[0], truth.nose[1]);
      await page.mouse.click(p.x, p.y);
      assert.ok(near(await placeOf('nose'), truth.nose, tolerance));

      // tail (N): placed by mistake, taken away with Delete, marked not visible with V.
      await page.keyboard.press('n');
      p = map.at(20, 100);
      await page.mouse.click(p.x, p.y);
      await status.filter({ hasText: /^4 of 4 keypoints placed/ }).waitFor();
      await page.keyboard.press('Delete');
      assert.equal(await stateOf('tail'), 'not placed');
      await page.keyboard.press('v');
      assert.equal(await stateOf('tail'), 'not visible');
      assert.ok(await page.getByRole('checkbox', { name: 'Not visible: tail' }).isChecked(), 'its tick box says so');
      await status.filter({ hasText: /^3 of 4 keypoints placed, 1 not visible/ }).waitFor();
      await checkPage(page, 'kinds-keypoints-placed');

      const shown = {
        left_eye: await placeOf('left_eye'),
        right_eye: await placeOf('right_eye'),
        nose: await placeOf('nose'),
        tail: null,
      };
      await blur(page);
      await page.keyboard.press('Enter');
      await labelled(page, 1);
      const answer = await storedAnswer(seeded);
      assert.deepEqual(answer, shown, 'stored as placed');
      const oks = similarity('keypoints', answer, { ...truth, tail: null }, names);
      assert.ok(oks > 0.9, `the service finds it near the cat's face: OKS ${oks}`);
      assert.deepEqual(problems, [], 'no page errors');
    });
  });

  test('masks: painted with a brush, erased and undone, cleared and undone, painted from the keyboard; what the buyer downloads is the painted mask, run-length encoded as pycocotools does', async () => {
    const pet = PETS.pets['3'];
    const { seeded, context, page, problems } = await workspace('Paint the pets', 'masks', [], 3, 'kinds-masks');
    await story(context, page, 'kinds-masks', async () => {
      const status = page.getByRole('status').filter({ hasText: 'pixels painted' });
      await status.filter({ hasText: /^0 of 19200 pixels painted/ }).waitFor();
      let map = await pictureMap(page, 'canvas.masks-layer');
      await checkPage(page, 'kinds-masks-workspace');
      map = await pictureMap(page, 'canvas.masks-layer');
      /** The painted pixels as the canvas holds them: rows of 0 and 1. */
      const painted = async () =>
        page.locator('canvas.masks-layer').evaluate((element) => {
          const canvas = /** @type {HTMLCanvasElement} */ (element);
          const { data, width, height } = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d')).getImageData(0, 0, canvas.width, canvas.height);
          return Array.from({ length: height }, (_, y) => Array.from({ length: width }, (_, x) => (data[4 * (y * width + x) + 3] > 0 ? 1 : 0)));
        });
      const areaOf = (/** @type {number[][]} */ rows) => rows.flat().reduce((a, b) => a + b, 0);
      const areaShown = async () => Number(/^(\d+) of/.exec((await status.textContent()) ?? '')?.[1]);

      // The brush up two sizes (8 → 16 px) with ], one down with [ (12 px), up again: 16.
      await page.keyboard.press(']');
      await page.keyboard.press(']');
      await page.keyboard.press('[');
      await page.keyboard.press(']');
      await status.filter({ hasText: 'with a 16 px brush' }).waitFor();

      // A stroke along the dog's middle, across its box.
      const [x0, y0, x1, y1] = pet.box;
      const mid = (y0 + y1) / 2;
      await drag(page, map.at(x0 + 8, mid), map.at(x1 - 8, mid));
      await status.filter({ hasText: 'Painted.' }).waitFor();
      const stroke = await painted();
      const strokeArea = areaOf(stroke);
      const length = x1 - 8 - (x0 + 8);
      const capsule = length * 16 + Math.PI * 64;
      assert.ok(Math.abs(strokeArea - capsule) < 0.06 * capsule, `a 16 px stroke ${length} px long covers ${strokeArea} px, about ${capsule.toFixed(0)}`);
      assert.equal(await areaShown(), strokeArea, 'the status counts the painted pixels');
      assert.ok(stroke[Math.round(mid)][Math.round((x0 + x1) / 2)] === 1 && stroke[2][2] === 0, 'painted where dragged only');

      // The eraser (E) through the stroke's middle, then Ctrl+Z: the stroke is whole again.
      await page.keyboard.press('e');
      await page.getByRole('button', { name: 'Eraser', pressed: true }).waitFor();
      await drag(page, map.at((x0 + x1) / 2, mid - 12), map.at((x0 + x1) / 2, mid + 12));
      await status.filter({ hasText: 'Erased.' }).waitFor();
      assert.ok((await areaShown()) < strokeArea - 100, 'the eraser took pixels away');
      await page.keyboard.press('Control+z');
      await status.filter({ hasText: 'Undone.' }).waitFor();
      assert.deepEqual(await painted(), stroke, 'undo brought back the stroke exactly');

      // An edit: one click of an 8 px eraser at the stroke's left end takes a disc out.
      await page.keyboard.press('[');
      await page.keyboard.press('[');
      await status.filter({ hasText: 'erasing with a 8 px brush' }).waitFor();
      const hole = map.at(x0 + 8, mid);
      await page.mouse.click(hole.x, hole.y);
      await status.filter({ hasText: 'Erased.' }).waitFor();
      const erased = await painted();
      const taken = strokeArea - areaOf(erased);
      assert.ok(taken >= 40 && taken <= 60, `an 8 px disc is about 50 pixels: ${taken}`);

      // Clear the mask, and Ctrl+Z: back as it was.
      await page.getByRole('button', { name: 'Clear the mask' }).click();
      await status.filter({ hasText: /^0 of 19200 pixels painted/ }).waitFor();
      await blur(page);
      await page.keyboard.press('Control+z');
      await status.filter({ hasText: 'Undone.' }).waitFor();
      assert.deepEqual(await painted(), erased, 'undo brought back the mask before Clear');

      // From the keyboard: paint again (E); the brush, left by the pointer at (80, 60), moved by
      // the arrows 20 px up to the dog's head, where Space paints a disc.
      await page.keyboard.press('e');
      await status.filter({ hasText: 'painting with a 8 px brush' }).waitFor();
      map = await pictureMap(page, 'canvas.masks-layer');
      const rest = map.at(80.2, 60.2);
      await page.mouse.move(rest.x, rest.y);
      await page.getByText('Brush 8 px at (80, 60)').waitFor();
      for (let n = 0; n < 2; n += 1) await page.keyboard.press('Shift+ArrowUp');
      await page.keyboard.press('Space');
      await status.filter({ hasText: 'Painted at (80, 40)' }).waitFor();
      await checkPage(page, 'kinds-masks-painted');

      const mask = await painted();
      const area = areaOf(mask);
      assert.equal(await areaShown(), area);
      assert.equal(mask[40][80], 1, 'Space painted under the brush');
      await blur(page);
      await page.keyboard.press('Enter');
      await labelled(page, 1);

      const answer = await storedAnswer(seeded);
      assert.deepEqual(answer.size, [120, 160], 'the picture size, [height, width]');
      assert.equal(answer.counts.filter((/** @type {number} */ _, /** @type {number} */ i) => i % 2 === 1).reduce((/** @type {number} */ a, /** @type {number} */ b) => a + b, 0), area, 'the stored mask has the painted area');
      const [coco] = cocoReads([{ rle: answer, mask }]);
      assert.ok(coco.decodes, 'pycocotools decodes the stored label to exactly the painted pixels');
      assert.ok(coco.encodes, 'and its own encoding of them is the stored runs');
      assert.deepEqual(problems, [], 'no page errors');
    });
  });
});
