// Masks: one binary mask over the item's picture, painted with a brush in the picture's own
// pixels. Drag (mouse, pen or finger) to paint; E switches to the eraser and back; [ and ] make
// the brush smaller and larger; the arrow keys move the brush (Shift: ten pixels) and Space
// paints (or erases) where it is, for painting from the keyboard; Ctrl+Z undoes a stroke; Clear
// empties the mask (undoable too). Enter sends it as COCO's uncompressed RLE,
// {"size": [height, width], "counts": [...]} (./rle.ts), as ledger/kinds/masks.py reads it.
import { type PointerEvent, useCallback, useEffect, useRef, useState } from "react";

import { pictureOf } from "../BoxCanvas";
import { ImageStage, picturePoint, type Stage } from "../ImageStage";
import { usePageKeyEvents } from "./ClassPicker";
import { ItemFrame } from "./ItemFrame";
import { Kbd, typing } from "./keys";
import { clamp } from "./media";
import { WithoutMedia } from "./NoMedia";
import { encodeRle } from "./rle";
import type { WidgetProps } from "./types";

type Point = [number, number];

/** Brush diameters, in picture pixels. */
export const BRUSHES = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64];
const FIRST_BRUSH = 5; // 8 pixels
const PAINT: [number, number, number, number] = [124, 58, 237, 150]; // violet, a little see-through
const UNDO_BYTES = 64 * 1024 * 1024; // at most this much kept for undoing
const MAX_RUNS = 200_000; // the masks kind's limit

interface Painting {
  mask: Uint8Array;
  width: number;
  height: number;
}

/** Sets (or clears) the mask's pixels whose centres lie in the disc at `c` of diameter `d`;
 * answers the rectangle touched, or null. */
function stamp(p: Painting, c: Point, d: number, value: 0 | 1): [number, number, number, number] | null {
  const r = d / 2;
  const x0 = clamp(Math.floor(c[0] - r), 0, p.width);
  const x1 = clamp(Math.ceil(c[0] + r), 0, p.width);
  const y0 = clamp(Math.floor(c[1] - r), 0, p.height);
  const y1 = clamp(Math.ceil(c[1] + r), 0, p.height);
  if (x1 <= x0 || y1 <= y0) return null;
  for (let y = y0; y < y1; y += 1) {
    const dy = y + 0.5 - c[1];
    for (let x = x0; x < x1; x += 1) {
      const dx = x + 0.5 - c[0];
      if (dx * dx + dy * dy <= r * r) p.mask[y * p.width + x] = value;
    }
  }
  return [x0, y0, x1, y1];
}

function areaOf(mask: Uint8Array): number {
  let area = 0;
  for (let i = 0; i < mask.length; i += 1) area += mask[i] === 0 ? 0 : 1;
  return area;
}

export function MasksWidget({ item, name, onSubmit }: WidgetProps) {
  const src = pictureOf(item.data);
  const painting = useRef<Painting | null>(null);
  const canvas = useRef<HTMLCanvasElement | null>(null);
  const history = useRef<Uint8Array[]>([]);
  const stroke = useRef<{ last: Point; value: 0 | 1 } | null>(null);
  const [size, setSize] = useState<{ width: number; height: number } | null>(null);
  const [brush, setBrush] = useState(FIRST_BRUSH);
  const [erasing, setErasing] = useState(false);
  const [cursor, setCursor] = useState<Point | null>(null);
  const [area, setArea] = useState(0);
  const [undoable, setUndoable] = useState(0);
  const [notice, setNotice] = useState("");
  const diameter = BRUSHES[brush] ?? 8;

  /** Draws the mask's pixels in `box` (all of it by default) onto the canvas. */
  const draw = useCallback((box?: [number, number, number, number]) => {
    const p = painting.current;
    const context = canvas.current?.getContext("2d");
    if (p === null || !context) return;
    const [x0, y0, x1, y1] = box ?? [0, 0, p.width, p.height];
    const image = context.createImageData(x1 - x0, y1 - y0);
    for (let y = y0; y < y1; y += 1) {
      for (let x = x0; x < x1; x += 1) {
        if (p.mask[y * p.width + x] === 0) continue;
        image.data.set(PAINT, 4 * ((y - y0) * (x1 - x0) + (x - x0)));
      }
    }
    context.putImageData(image, x0, y0);
  }, []);

  const attach = useCallback(
    (element: HTMLCanvasElement | null) => {
      canvas.current = element;
      if (element !== null) draw();
    },
    [draw],
  );

  function started(natural: { width: number; height: number }) {
    painting.current = { mask: new Uint8Array(natural.width * natural.height), width: natural.width, height: natural.height };
    history.current = [];
    setSize(natural);
    setCursor([natural.width / 2, natural.height / 2]);
  }

  /** Keeps the mask as it is now, for Ctrl+Z to come back to. */
  function remember() {
    const p = painting.current;
    if (p === null) return;
    history.current.push(p.mask.slice());
    const keep = Math.max(1, Math.floor(UNDO_BYTES / Math.max(1, p.mask.length)));
    if (history.current.length > keep) history.current.splice(0, history.current.length - keep);
    setUndoable(history.current.length);
  }

  function settled(what: string) {
    const p = painting.current;
    if (p !== null) setArea(areaOf(p.mask));
    setNotice(what);
  }

  /** Paints (or erases) along the segment from `from` to `to`, disc by disc. */
  function paintAlong(from: Point, to: Point, value: 0 | 1) {
    const p = painting.current;
    if (p === null) return;
    const length = Math.hypot(to[0] - from[0], to[1] - from[1]);
    const steps = Math.max(1, Math.ceil(length / Math.max(0.5, diameter / 4)));
    let touched: [number, number, number, number] | null = null;
    for (let s = 0; s <= steps; s += 1) {
      const t = s / steps;
      const box = stamp(p, [from[0] + (to[0] - from[0]) * t, from[1] + (to[1] - from[1]) * t], diameter, value);
      if (box === null) continue;
      touched = touched === null ? box : [Math.min(touched[0], box[0]), Math.min(touched[1], box[1]), Math.max(touched[2], box[2]), Math.max(touched[3], box[3])];
    }
    if (touched !== null) draw(touched);
  }

  function undo() {
    const p = painting.current;
    const before = history.current.pop();
    if (p === null || before === undefined) {
      setNotice("Nothing to undo.");
      return;
    }
    p.mask.set(before);
    setUndoable(history.current.length);
    draw();
    settled("Undone.");
  }

  function clear() {
    const p = painting.current;
    if (p === null) return;
    if (area === 0) {
      setNotice("The mask is empty already.");
      return;
    }
    remember();
    p.mask.fill(0);
    draw();
    settled("The mask is cleared (Ctrl+Z brings it back).");
  }

  function resize(by: number) {
    const to = clamp(brush + by, 0, BRUSHES.length - 1);
    setBrush(to);
    setNotice(`Brush ${BRUSHES[to] ?? 0} pixels across.`);
  }

  function toggleEraser() {
    setErasing(!erasing);
    setNotice(erasing ? "Painting." : "Erasing.");
  }

  function send() {
    const p = painting.current;
    if (p === null) return;
    const rle = encodeRle(p.mask, p.width, p.height);
    if (rle.counts.length > MAX_RUNS) {
      setNotice(`The mask has ${rle.counts.length} runs, more than the ${MAX_RUNS} a label may have: paint fewer, larger regions.`);
      return;
    }
    onSubmit(JSON.stringify(rle));
  }

  // Ctrl+Z (Cmd+Z) undoes a stroke, outside the fields: usePageKeyEvents leaves keys with a
  // modifier alone.
  const latestUndo = useRef(undo);
  useEffect(() => {
    latestUndo.current = undo;
  });
  useEffect(() => {
    function listener(event: KeyboardEvent) {
      if (!(event.ctrlKey || event.metaKey) || event.altKey || event.shiftKey || event.key.toLowerCase() !== "z") return;
      if (typing(event.target)) return;
      event.preventDefault();
      latestUndo.current();
    }
    window.addEventListener("keydown", listener);
    return () => window.removeEventListener("keydown", listener);
  }, []);

  usePageKeyEvents((event) => {
    const { key } = event;
    if (event.target instanceof HTMLInputElement && key.startsWith("Arrow")) return false;
    const far = event.shiftKey ? 10 : 1;
    const move = (dx: number, dy: number) => {
      if (size === null) return false;
      const from = cursor ?? [size.width / 2, size.height / 2];
      const to: Point = [clamp(from[0] + dx, 0, size.width), clamp(from[1] + dy, 0, size.height)];
      setCursor(to);
      return true;
    };
    switch (key) {
      case "[":
        resize(-1);
        return true;
      case "]":
        resize(1);
        return true;
      case "e":
      case "E":
        toggleEraser();
        return true;
      case "ArrowLeft":
        return move(-far, 0);
      case "ArrowRight":
        return move(far, 0);
      case "ArrowUp":
        return move(0, -far);
      case "ArrowDown":
        return move(0, far);
      case " ":
        if (cursor === null) return false;
        remember();
        paintAlong(cursor, cursor, erasing ? 0 : 1);
        settled(`${erasing ? "Erased" : "Painted"} at (${Math.round(cursor[0])}, ${Math.round(cursor[1])}).`);
        return true;
      case "Enter":
        send();
        return true;
      default:
        return false;
    }
  });

  if (src === null) {
    return <WithoutMedia item={item} name={name} what="picture to paint a mask on" />;
  }

  function layer(stage: Stage) {
    const { width, height, unit } = stage;
    const onPointerDown = (event: PointerEvent<HTMLCanvasElement>) => {
      if (event.button !== 0) return;
      event.currentTarget.setPointerCapture(event.pointerId);
      const point = picturePoint(event, event.currentTarget, stage);
      const value = erasing ? 0 : 1;
      remember();
      stroke.current = { last: point, value };
      setCursor(point);
      paintAlong(point, point, value);
    };
    const onPointerMove = (event: PointerEvent<HTMLCanvasElement>) => {
      const point = picturePoint(event, event.currentTarget, stage);
      setCursor(point);
      const going = stroke.current;
      if (going === null) return;
      paintAlong(going.last, point, going.value);
      going.last = point;
    };
    const onPointerUp = () => {
      const going = stroke.current;
      if (going === null) return;
      stroke.current = null;
      settled(going.value === 1 ? "Painted." : "Erased.");
    };
    return (
      <>
        <canvas
          ref={attach}
          className="image-layer masks-layer"
          width={width}
          height={height}
          aria-hidden="true"
          data-size={`${width} ${height}`}
          onPointerDown={onPointerDown}
          onPointerMove={onPointerMove}
          onPointerUp={onPointerUp}
          onPointerCancel={onPointerUp}
        />
        {cursor !== null && (
          <svg className="image-layer masks-brush" viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" aria-hidden="true">
            <circle
              cx={cursor[0]}
              cy={cursor[1]}
              r={Math.max(diameter / 2, 2 * unit)}
              fill="none"
              stroke={erasing ? "#1b1f24" : "#ffffff"}
              strokeWidth={2}
              strokeDasharray={erasing ? "4 3" : undefined}
              vectorEffect="non-scaling-stroke"
            />
          </svg>
        )}
      </>
    );
  }

  const pixels = size === null ? 0 : size.width * size.height;
  return (
    <>
      <ItemFrame externalId={item.external_id}>
        <p className="muted">
          Paint the region on the picture: drag to paint, E switches to the eraser and back, [ and ] make the brush smaller and larger.
          From the keyboard: the arrow keys move the brush (Shift: ten pixels) and Space paints where it is. Ctrl+Z undoes a stroke.
          Enter sends the mask.
        </p>
        <ImageStage src={src} name={name} onSize={started} className="masks-stage">
          {layer}
        </ImageStage>
      </ItemFrame>
      <div className="segments-transport masks-tools">
        <button type="button" aria-pressed={erasing} onClick={toggleEraser} aria-keyshortcuts="E">
          <Kbd>E</Kbd> Eraser
        </button>
        <button type="button" onClick={() => resize(-1)} aria-keyshortcuts="[" disabled={brush === 0}>
          <Kbd>[</Kbd> Smaller brush
        </button>
        <span className="segments-time masks-brush-size">
          Brush {diameter} px{cursor !== null ? ` at (${Math.round(cursor[0])}, ${Math.round(cursor[1])})` : ""}
        </span>
        <button type="button" onClick={() => resize(1)} aria-keyshortcuts="]" disabled={brush === BRUSHES.length - 1}>
          Larger brush <Kbd>]</Kbd>
        </button>
        <button type="button" onClick={undo} aria-keyshortcuts="Control+Z">
          Undo{undoable > 0 ? ` (${undoable})` : ""}
        </button>
        <button type="button" onClick={clear}>
          Clear the mask
        </button>
      </div>
      <p role="status">
        {size === null
          ? "Loading the picture…"
          : `${area} of ${pixels} pixels painted (${((100 * area) / Math.max(1, pixels)).toFixed(1)}%); ${erasing ? "erasing" : "painting"} with a ${diameter} px brush`}
        {notice ? `. ${notice}` : ""}
      </p>
      <button type="button" className="primary" aria-keyshortcuts="Enter" onClick={send} disabled={size === null}>
        {area === 0 ? "Submit an empty mask" : "Submit the mask"}
      </button>
    </>
  );
}
