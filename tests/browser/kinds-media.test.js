// @ts-check
/**
 * The widgets of the media kinds, driven as a person would in Debian's headless Chromium against
 * a real `up`: segments on a generated audio clip, tracks on the shipped video, cuboids in a
 * generated point cloud (ledger/media.py, served at /media/). Each story checks that the media
 * really loaded (the waveform drew where the sound is, the video's frame changed when scrubbed
 * and shows the shapes where the truth says, the cloud's points are drawn), labels one item with
 * the mouse and keys (with one edit and one delete), submits, and reads the label back as the
 * buyer downloads it (`answer`): what was drawn, close to the truth ledger/media.py knows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { checkPage, launchBrowser, story } from './support/pages.js';
import { drag, kindWorkspace, python, similarity, storedAnswer } from './support/kinds.js';
import { startProduct } from './support/product.js';
import { labelled } from './support/steps.js';

/** @typedef {import('playwright-core').Page} Page */

/** What ledger/media.py knows: each file's truth, as labels of its kind. */
const TRUTH = python(
  'import json\nfrom ledger.media import *\n' +
    'print(json.dumps({"audio": audio_clip(0).label(), "audio_seconds": AUDIO_SECONDS,' +
    ' "tracks": video_tracks(), "fps": VIDEO_FPS, "frames": VIDEO_FRAMES,' +
    ' "cloud": point_cloud(1).label(), "cloud_points": len(point_cloud(1).points)}))',
);

describe('the media kinds labelled through their widgets', { timeout: 900_000 }, () => {
  /** @type {import('./support/product.js').Product} */
  let product;
  /** @type {import('playwright-core').Browser} */
  let browser;

  before(async () => {
    product = await startProduct({ name: 'kinds-media' });
    const kinds = await (await fetch(`${product.url}/v1/kinds`)).json();
    for (const name of ['segments', 'tracks', 'cuboids']) {
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
   * A funded dataset of `labelType` with one item, and the annotator's page on its workspace,
   * signed in through the app.
   * @param {string} name
   * @param {string} labelType
   * @param {string[]} classes
   * @param {unknown} data
   * @param {string} artifact
   */
  async function workspace(name, labelType, classes, data, artifact) {
    const instructions = `Mark every ${classes.join(' and every ')}.`;
    return kindWorkspace(product, browser, { name, labelType, classes, data, instructions, artifact });
  }

  test('segments: the clip plays over its waveform; segments marked by a drag and by [ and ], one nudged and one deleted, are what the buyer downloads', async () => {
    const classes = ['speech', 'music'];
    const { seeded, context, page, problems } = await workspace(
      'Who speaks, what plays',
      'segments',
      classes,
      { audio: '/media/audio/0.wav' },
      'kinds-segments',
    );
    await story(context, page, 'kinds-segments', async () => {
      const truth = /** @type {{ class: string, start: number, end: number }[]} */ (TRUTH.audio);
      const seconds = TRUTH.audio_seconds;
      const waveform = page.locator('canvas.segments-waveform[data-waveform="drawn"]');
      await waveform.waitFor();
      await page.getByText(`0.00 s of ${seconds.toFixed(2)} s`).waitFor();

      // The waveform drew the sound where the clip has it: tall inside the truth segments, flat
      // between them.
      const heights = await waveform.evaluate((element) => {
        const canvas = /** @type {HTMLCanvasElement} */ (element);
        const context = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
        const { data, width, height } = context.getImageData(0, 0, canvas.width, canvas.height);
        const columns = [];
        for (let x = 0; x < width; x += 1) {
          let dark = 0;
          for (let y = 0; y < height; y += 1) {
            const at = 4 * (y * width + x);
            if (data[at] < 60 && data[at + 1] < 60 && data[at + 2] < 60) dark += 1;
          }
          columns.push(dark);
        }
        return columns;
      });
      const inside = (/** @type {number} */ x) =>
        truth.some((s) => s.start * heights.length <= x * seconds && x * seconds < s.end * heights.length);
      const median = (/** @type {number[]} */ values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
      const loud = median(heights.filter((_, x) => inside(x)));
      const quiet = median(heights.filter((_, x) => !inside(x)));
      assert.ok(loud > 25, `the waveform is tall where the clip sounds: ${loud} px`);
      assert.ok(quiet <= 4, `and flat between: ${quiet} px`);
      await checkPage(page, 'kinds-segments-workspace');

      // Space plays it: the playhead moves; Space again pauses.
      const clock = page.locator('.segments-time');
      await page.keyboard.press('Space');
      await page.waitForFunction(() => {
        const text = document.querySelector('.segments-time')?.textContent ?? '';
        return parseFloat(text) > 0.2;
      });
      await page.keyboard.press('Space');
      await page.getByRole('button', { name: 'Play' }).waitFor();
      assert.match((await clock.textContent()) ?? '', /^\d+\.\d\d s of/);

      /** Where time `t` is on the waveform, on the screen as it is scrolled now. */
      async function at(/** @type {number} */ t) {
        await waveform.scrollIntoViewIfNeeded();
        const shown = await waveform.boundingBox();
        assert.ok(shown, 'the waveform is on the page');
        return { x: shown.x + (t / seconds) * shown.width, y: shown.y + shown.height / 2 };
      }
      const [first, second, third] = truth;
      assert.ok(first && second && third, 'clip 0 has three segments');

      // 1. A drag across the first stretch, in its class (its key).
      await page.keyboard.press(String(classes.indexOf(first.class) + 1));
      await drag(page, await at(first.start), await at(first.end));
      await page.getByRole('status').filter({ hasText: '1 segment marked' }).waitFor();

      // 2. Keys: a click puts the playhead at the start, [ marks it; a click at the end, ].
      await page.keyboard.press(String(classes.indexOf(second.class) + 1));
      const secondStart = await at(second.start);
      await page.mouse.click(secondStart.x, secondStart.y);
      await page.keyboard.press('[');
      await page.getByRole('status').filter({ hasText: 'a start marked at' }).waitFor();
      const secondEnd = await at(second.end);
      await page.mouse.click(secondEnd.x, secondEnd.y);
      await page.keyboard.press(']');
      await page.getByRole('status').filter({ hasText: '2 segments marked' }).waitFor();

      // 3. A stray segment, deleted with Delete once picked in the list.
      await drag(page, await at(5.4), await at(5.8));
      await page.getByRole('status').filter({ hasText: '3 segments marked' }).waitFor();
      await page.getByRole('button', { name: 'Segment 3', exact: true }).click();
      await page.keyboard.press('Delete');
      await page.getByRole('status').filter({ hasText: '2 segments marked' }).waitFor();

      // 4. The third stretch by a drag, then its start nudged twice (→) and its end once (Shift+→).
      await page.keyboard.press(String(classes.indexOf(third.class) + 1));
      await drag(page, await at(third.start), await at(third.end));
      await page.getByRole('status').filter({ hasText: '3 segments marked' }).waitFor();
      const edge = (/** @type {string} */ which, /** @type {number} */ n) =>
        page.getByRole('spinbutton', { name: `${which} of segment ${n} (s)` });
      const before = [Number(await edge('Start', 3).inputValue()), Number(await edge('End', 3).inputValue())];
      await page.getByRole('button', { name: 'Segment 3', exact: true }).click();
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('Shift+ArrowRight');
      const edited = [Number(await edge('Start', 3).inputValue()), Number(await edge('End', 3).inputValue())];
      assert.deepEqual(edited, [Math.round((before[0] + 0.1) * 100) / 100, Math.round((before[1] + 0.05) * 100) / 100]);
      await checkPage(page, 'kinds-segments-marked');

      /** @type {{ class: string, start: number, end: number }[]} */
      const shownSegments = [];
      for (let n = 1; n <= 3; n += 1) {
        shownSegments.push({
          class: await page.getByRole('combobox', { name: `Class of segment ${n}` }).inputValue(),
          start: Number(await edge('Start', n).inputValue()),
          end: Number(await edge('End', n).inputValue()),
        });
      }
      // Enter on the focused Segment 3 button would press it: Escape, off the button, then Enter.
      await page.keyboard.press('Escape');
      await page.evaluate(() => /** @type {HTMLElement | null} */ (document.activeElement)?.blur());
      await page.keyboard.press('Enter');
      await labelled(page, 1);

      const answer = await storedAnswer(seeded);
      const byStart = (/** @type {any} */ a, /** @type {any} */ b) => a.start - b.start;
      assert.deepEqual([...answer].sort(byStart), [...shownSegments].sort(byStart), 'stored as shown');
      for (const segment of answer) {
        const match = truth.find((s) => s.class === segment.class && Math.abs(s.start - segment.start) < 0.2);
        assert.ok(match, `${JSON.stringify(segment)} is a truth segment's`);
        assert.ok(Math.abs(match.end - segment.end) < 0.12, `${JSON.stringify(segment)} ends where ${JSON.stringify(match)} does`);
      }
      assert.equal(similarity('segments', answer, truth, classes), 1, 'the service counts it as agreeing with the truth');
      assert.deepEqual(problems, [], 'no page errors');
    });
  });

  test('tracks: the video scrubs frame by frame; keyframe boxes, one deleted and one redrawn, are interpolated between and are what the buyer downloads', async () => {
    const classes = ['ball', 'block'];
    const { seeded, context, page, problems } = await workspace(
      'Follow the shapes',
      'tracks',
      classes,
      { video: '/media/video/shapes.webm', fps: TRUTH.fps },
      'kinds-tracks',
    );
    await story(context, page, 'kinds-tracks', async () => {
      /** @type {Record<string, Record<string, number[]>>} class -> frame -> box */
      const truth = Object.fromEntries(TRUTH.tracks.map((/** @type {any} */ t) => [t.class, t.frames]));
      const frameImage = (/** @type {number} */ f) => page.getByRole('img', { name: `Item tracks-1: frame ${f}`, exact: true });

      /** The frame shown, as a person sees it: where its red (the ball) is, and its pixels' digest. */
      async function look(/** @type {number} */ f) {
        const image = frameImage(f);
        await image.waitFor();
        await page.locator('.tracks-frame[aria-busy="false"]').waitFor();
        return image.evaluate(async (element) => {
          const img = /** @type {HTMLImageElement} */ (element);
          await img.decode();
          const canvas = document.createElement('canvas');
          canvas.width = img.naturalWidth;
          canvas.height = img.naturalHeight;
          const context = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
          context.drawImage(img, 0, 0);
          const { data, width, height } = context.getImageData(0, 0, canvas.width, canvas.height);
          let [x0, y0, x1, y1, reds, sum] = [width, height, -1, -1, 0, 0];
          for (let y = 0; y < height; y += 1) {
            for (let x = 0; x < width; x += 1) {
              const at = 4 * (y * width + x);
              sum = (sum * 31 + data[at] + data[at + 1] * 7 + data[at + 2] * 13) % 1_000_000_007;
              if (data[at] > 170 && data[at + 1] < 110 && data[at + 2] < 110) {
                reds += 1;
                x0 = Math.min(x0, x);
                y0 = Math.min(y0, y);
                x1 = Math.max(x1, x + 1);
                y1 = Math.max(y1, y + 1);
              }
            }
          }
          return { size: [width, height], reds, red: [x0, y0, x1, y1], digest: sum };
        });
      }
      /** The shown frame's ball lies where the truth says on frame `f` (within the codec's blur). */
      async function showsFrame(/** @type {number} */ f) {
        const seen = await look(f);
        assert.ok(seen.reds > 300, `frame ${f} shows the ball`);
        const box = truth.ball[String(f)];
        seen.red.forEach((value, i) => assert.ok(Math.abs(value - box[i]) <= 2, `frame ${f}: ball at ${seen.red}, truth ${box}`));
        return seen;
      }

      const first = await showsFrame(0);
      assert.deepEqual(first.size, [240, 180]);
      await checkPage(page, 'kinds-tracks-workspace');

      /** Draws `box` (the picture's pixels) on the frame shown. */
      async function drawBox(/** @type {number} */ f, /** @type {number[]} */ box) {
        await frameImage(f).scrollIntoViewIfNeeded();
        const shown = await frameImage(f).boundingBox();
        assert.ok(shown, `frame ${f} is on the page`);
        const scale = shown.width / 240;
        // a fifth of a picture pixel past the corner: the page rounds to the corner's pixel
        const to = (/** @type {number} */ x, /** @type {number} */ y) => ({ x: shown.x + (x + 0.2) * scale, y: shown.y + (y + 0.2) * scale });
        await drag(page, to(box[0], box[1]), to(box[2], box[3]));
      }
      const status = page.getByRole('status');

      // Track 1, the ball: frame 0 (the draw starts the track), then . ten times to frame 10.
      await page.keyboard.press('1');
      await drawBox(0, truth.ball['0']);
      await status.filter({ hasText: 'track 1 selected, keyframes 0' }).waitFor();
      for (let n = 0; n < 10; n += 1) await page.keyboard.press('.');
      const tenth = await showsFrame(10);
      assert.notEqual(tenth.digest, first.digest, 'scrubbing changed the frame');
      // A box drawn on frame 10 and deleted with Delete: the track goes straight from 0 to 20.
      await drawBox(10, [20, 20, 60, 60]);
      await status.filter({ hasText: 'keyframes 0, 10' }).waitFor();
      await page.keyboard.press('Delete');
      await status.filter({ hasText: "Track 1's box on frame 10 deleted" }).waitFor();
      // The slider to frame 20: a box drawn off, then drawn again where the ball is (an edit).
      await page.getByRole('slider', { name: 'Frame' }).fill('20');
      await showsFrame(20);
      await drawBox(20, [10, 10, 40, 40]);
      await drawBox(20, truth.ball['20']);
      await status.filter({ hasText: 'keyframes 0, 20' }).waitFor();
      await page.keyboard.press(',');
      await frameImage(19).waitFor();
      assert.equal(await page.locator('.box-caption', { hasText: '1 ball (between keyframes)' }).count(), 1);
      await checkPage(page, 'kinds-tracks-drawn');

      // Track 2, the block: N, key 2, its box on the first frame and on the last.
      await page.keyboard.press('n');
      await page.keyboard.press('2');
      await page.keyboard.press('Home');
      await showsFrame(0);
      await drawBox(0, truth.block['0']);
      await page.keyboard.press('End');
      await showsFrame(TRUTH.frames - 1);
      await drawBox(TRUTH.frames - 1, truth.block[String(TRUTH.frames - 1)]);
      await status.filter({ hasText: `track 2 selected, keyframes 0, ${TRUTH.frames - 1}` }).waitFor();
      // Track 3, drawn by mistake and deleted from the list.
      await page.keyboard.press('n');
      await drawBox(TRUTH.frames - 1, [5, 5, 30, 30]);
      await page.getByRole('button', { name: 'Delete track 3' }).click();
      await status.filter({ hasText: /^2 tracks/ }).waitFor();

      await page.keyboard.press('Enter');
      await labelled(page, 1);
      const answer = await storedAnswer(seeded);
      assert.deepEqual(answer.map((/** @type {any} */ t) => t.class).sort(), ['ball', 'block']);
      for (const track of answer) {
        const frames = Object.keys(track.frames).map(Number).sort((a, b) => a - b);
        const last = track.class === 'ball' ? 20 : TRUTH.frames - 1;
        assert.deepEqual(frames, Array.from({ length: last + 1 }, (_, f) => f), `${track.class}: every frame from 0 to ${last}`);
        const a = track.frames['0'];
        const b = track.frames[String(last)];
        for (const [f, key] of [[0, a], [last, b]]) {
          key.forEach((/** @type {number} */ v, /** @type {number} */ i) =>
            assert.ok(Math.abs(v - truth[track.class][String(f)][i]) <= 1, `${track.class} keyframe ${f}: ${key} drawn on ${truth[track.class][String(f)]}`),
          );
        }
        for (const f of frames) {
          const t = f / last;
          const expected = a.map((/** @type {number} */ v, /** @type {number} */ i) => Math.round((v + (b[i] - v) * t) * 10) / 10);
          assert.deepEqual(track.frames[String(f)], expected, `${track.class} frame ${f} interpolated`);
        }
      }
      assert.deepEqual(problems, [], 'no page errors');
    });
  });

  test('cuboids: the point cloud is drawn from above and the side; boxes placed by drag, turned and moved by keys, one deleted, are what the buyer downloads', async () => {
    const classes = ['car', 'pedestrian'];
    const { seeded, context, page, problems } = await workspace(
      'Boxes in the street',
      'cuboids',
      classes,
      { cloud: '/media/clouds/1.bin' },
      'kinds-cuboids',
    );
    await story(context, page, 'kinds-cuboids', async () => {
      const truth = /** @type {{ class: string, center: number[], size: number[], yaw: number }[]} */ (TRUTH.cloud);
      const top = page.locator('canvas.cuboids-top');
      await top.waitFor();
      assert.equal(Number(await top.getAttribute('data-points')), TRUTH.cloud_points, 'every point of the file read');
      const lit = await top.evaluate((element) => {
        const canvas = /** @type {HTMLCanvasElement} */ (element);
        const { data } = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d')).getImageData(0, 0, canvas.width, canvas.height);
        let count = 0;
        for (let at = 0; at < data.length; at += 4) if (data[at] + data[at + 1] + data[at + 2] > 200) count += 1;
        return count;
      });
      assert.ok(lit > 5000, `the points are drawn: ${lit} pixels lit`);
      await checkPage(page, 'kinds-cuboids-workspace');

      /** A point of the cloud (metres) on the screen, through the top view's own scale. */
      async function onTop(/** @type {number} */ x, /** @type {number} */ y) {
        const [cx, cy, scale, size] = ((await top.getAttribute('data-view')) ?? '').split(' ').map(Number);
        await top.scrollIntoViewIfNeeded();
        const shown = await top.boundingBox();
        assert.ok(shown);
        const k = shown.width / size;
        return { x: shown.x + (size / 2 + (x - cx) * scale) * k, y: shown.y + (size / 2 - (y - cy) * scale) * k };
      }
      const status = page.getByRole('status');
      const [car, pedestrian] = truth;
      assert.ok(car && pedestrian && car.class === 'car' && pedestrian.class === 'pedestrian');

      // The car: its footprint dragged 0.3 m too far right, then three ← bring it back; turned
      // by Q or E in 5° steps to its heading (a box turned half a turn is the same box).
      await page.keyboard.press('1');
      const [l, w] = car.size;
      await drag(page, await onTop(car.center[0] + 0.3 - l / 2, car.center[1] - w / 2), await onTop(car.center[0] + 0.3 + l / 2, car.center[1] + w / 2));
      await status.filter({ hasText: 'box 1 selected' }).waitFor();
      for (let n = 0; n < 3; n += 1) await page.keyboard.press('ArrowLeft');
      let heading = car.yaw % Math.PI;
      if (heading > Math.PI / 2) heading -= Math.PI;
      if (heading < -Math.PI / 2) heading += Math.PI;
      const turns = Math.round(heading / ((5 * Math.PI) / 180));
      for (let n = 0; n < Math.abs(turns); n += 1) await page.keyboard.press(turns > 0 ? 'q' : 'e');
      // Its bottom and top set in the side view, from the ground to the car's roof.
      const side = page.locator('canvas.cuboids-side');
      const [, z0, sideScale, sideW, sideH] = ((await side.getAttribute('data-view')) ?? '').split(' ').map(Number);
      await side.scrollIntoViewIfNeeded();
      const sideShown = await side.boundingBox();
      assert.ok(sideShown);
      const k = sideShown.width / sideW;
      const zAt = (/** @type {number} */ z) => ({ x: sideShown.x + (sideW / 2) * k, y: sideShown.y + (sideH / 2 - (z - z0) * sideScale) * k });
      await drag(page, zAt(car.center[2] - car.size[2] / 2), zAt(car.center[2] + car.size[2] / 2));
      await checkPage(page, 'kinds-cuboids-car');

      // A stray box, deleted with Delete while selected.
      await page.keyboard.press('Escape');
      await drag(page, await onTop(-10, -10), await onTop(-8.5, -8.8));
      await status.filter({ hasText: 'box 2 selected' }).waitFor();
      await page.keyboard.press('Delete');
      await status.filter({ hasText: 'Cuboid 2 deleted' }).waitFor();

      // The pedestrian, its class by key 2.
      await page.keyboard.press('2');
      const [pl, pw] = pedestrian.size;
      await drag(page, await onTop(pedestrian.center[0] - pl / 2, pedestrian.center[1] - pw / 2), await onTop(pedestrian.center[0] + pl / 2, pedestrian.center[1] + pw / 2));
      await status.filter({ hasText: /^2 boxes placed; box 2 selected/ }).waitFor();

      await page.keyboard.press('Enter');
      await labelled(page, 1);
      const answer = await storedAnswer(seeded);
      assert.deepEqual(answer.map((/** @type {any} */ c) => c.class), ['car', 'pedestrian']);
      const [storedCar, storedPedestrian] = answer;
      assert.ok(Math.abs(storedCar.yaw - turns * ((5 * Math.PI) / 180)) < 0.002, `the car turned ${turns} steps: ${storedCar.yaw}`);
      for (const [stored, real] of [[storedCar, car], [storedPedestrian, pedestrian]]) {
        for (const i of [0, 1]) assert.ok(Math.abs(stored.center[i] - real.center[i]) < 0.1, `${real.class} centre ${stored.center} near ${real.center}`);
        assert.ok(Math.abs(stored.center[2] - real.center[2]) < 0.1, `${real.class} z ${stored.center[2]} near ${real.center[2]}`);
        assert.ok(Math.abs(stored.size[2] - real.size[2]) < 0.15, `${real.class} height ${stored.size[2]} near ${real.size[2]}`);
      }
      assert.equal(similarity('cuboids', answer, truth, classes), 1, 'the service counts it as agreeing with the truth');
      assert.deepEqual(problems, [], 'no page errors');
    });
  });
});
