// Keypoints: one skeleton on the item's picture, its keypoints named by the dataset's classes
// (nose, left_eye, ...). A click places the current keypoint; N (or Tab while the picture has the
// focus) moves on to the next, Shift+N (or P) back; a press on a placed keypoint makes it current
// and a drag moves it; the arrow keys nudge the current one a pixel (Shift: ten); V marks it not
// visible (and back), Delete takes its place away. Enter sends {"<keypoint>": [x, y] or null, ...}
// naming every keypoint, null for those not visible or not placed, in the picture's own pixels.
import { type PointerEvent, useId, useRef, useState } from "react";

import { pictureOf } from "../BoxCanvas";
import { ImageStage, picturePoint, type Stage } from "../ImageStage";
import { usePageKeyEvents } from "./ClassPicker";
import { ItemFrame } from "./ItemFrame";
import { Kbd } from "./keys";
import { clamp, rounded } from "./media";
import { WithoutMedia } from "./NoMedia";
import { CLASS_COLOURS } from "./SegmentsWidget";
import type { WidgetProps } from "./types";

type Point = [number, number];

interface Mark {
  /** Where it was placed (kept while it is marked not visible, so V twice restores it). */
  at: Point | null;
  hidden: boolean;
}

const REACH = 11; // screen pixels: how near a press must be to take a keypoint
const DOT = 6; // screen pixels: a keypoint's radius

function colourAt(index: number): string {
  return CLASS_COLOURS[index % CLASS_COLOURS.length] ?? "#1d4e89";
}

function stateOf(mark: Mark | undefined): string {
  if (mark?.hidden) return "not visible";
  if (mark?.at == null) return "not placed";
  return `at (${mark.at[0]}, ${mark.at[1]})`;
}

export function KeypointsWidget({ item, name, onSubmit }: WidgetProps) {
  const id = useId();
  const src = pictureOf(item.data);
  const names = item.label_classes;
  const stage = useRef<HTMLDivElement>(null);
  const [size, setSize] = useState<{ width: number; height: number } | null>(null);
  const [marks, setMarks] = useState<Mark[]>(() => names.map(() => ({ at: null, hidden: false })));
  const [current, setCurrent] = useState(0);
  const [dragging, setDragging] = useState<number | null>(null);
  const [notice, setNotice] = useState("");

  const currentName = names[current] ?? "";
  const mark = marks[current];

  function at(point: Point): Point {
    const width = size?.width ?? Infinity;
    const height = size?.height ?? Infinity;
    return [rounded(clamp(point[0], 0, width), 1), rounded(clamp(point[1], 0, height), 1)];
  }

  function update(index: number, change: (m: Mark) => Mark) {
    setMarks((all) => all.map((m, n) => (n === index ? change(m) : m)));
  }

  function placeAt(index: number, point: Point) {
    const p = at(point);
    update(index, () => ({ at: p, hidden: false }));
  }

  function go(index: number) {
    const to = (index + names.length) % Math.max(1, names.length);
    setCurrent(to);
    setNotice(`Current keypoint: ${names[to] ?? ""} (${stateOf(marks[to])}).`);
  }

  function toggleHidden(index: number) {
    const was = marks[index]?.hidden ?? false;
    update(index, (m) => ({ ...m, hidden: !was }));
    setNotice(`${names[index] ?? ""} marked ${was ? "visible again" : "not visible"}.`);
  }

  function clear(index: number) {
    const m = marks[index];
    if (m === undefined || (m.at === null && !m.hidden)) {
      setNotice(`${names[index] ?? ""} is not placed: nothing to take away.`);
      return;
    }
    update(index, () => ({ at: null, hidden: false }));
    setNotice(`${names[index] ?? ""} taken away: not placed.`);
  }

  function send() {
    const label: Record<string, Point | null> = {};
    names.forEach((keypoint, n) => {
      const m = marks[n];
      label[keypoint] = m === undefined || m.hidden || m.at === null ? null : m.at;
    });
    onSubmit(JSON.stringify(label));
  }

  usePageKeyEvents((event) => {
    const { key } = event;
    // arrows on a radio button or a tick box move among them, as they do
    if (event.target instanceof HTMLInputElement && key.startsWith("Arrow")) return false;
    const far = event.shiftKey ? 10 : 1;
    const nudge = (dx: number, dy: number) => {
      if (mark?.at == null || mark.hidden) return false;
      placeAt(current, [mark.at[0] + dx, mark.at[1] + dy]);
      return true;
    };
    switch (key) {
      case "Tab":
        // within the picture, Tab walks the keypoints; past the last (or before the first) it
        // leaves the picture as Tab does
        if (event.target !== stage.current) return false;
        if (event.shiftKey ? current === 0 : current === names.length - 1) return false;
        go(current + (event.shiftKey ? -1 : 1));
        return true;
      case "n":
        go(current + 1);
        return true;
      case "N":
      case "p":
      case "P":
        go(current - 1);
        return true;
      case "v":
      case "V":
        toggleHidden(current);
        return true;
      case "Delete":
      case "Backspace":
        clear(current);
        return true;
      case "ArrowLeft":
        return nudge(-far, 0);
      case "ArrowRight":
        return nudge(far, 0);
      case "ArrowUp":
        return nudge(0, -far);
      case "ArrowDown":
        return nudge(0, far);
      case "Enter":
        send();
        return true;
      default:
        return false;
    }
  });

  if (src === null || names.length === 0) {
    return (
      <WithoutMedia item={item} name={name} what="picture to place keypoints on"
        notice={src === null ? undefined : (
          <p className="notice">This dataset names no keypoints to place; skip the item as &quot;Unclear&quot;.</p>
        )} />
    );
  }

  function layer(shown: Stage) {
    const { width, height, unit } = shown;
    const onPointerDown = (event: PointerEvent<SVGSVGElement>) => {
      if (event.button !== 0) return;
      const point = picturePoint(event, event.currentTarget, shown);
      let hit = -1;
      let nearest = REACH * unit;
      marks.forEach((m, n) => {
        if (m.at === null || m.hidden) return;
        const distance = Math.hypot(m.at[0] - point[0], m.at[1] - point[1]);
        if (distance <= nearest) {
          nearest = distance;
          hit = n;
        }
      });
      event.currentTarget.setPointerCapture(event.pointerId);
      setDragging(hit >= 0 ? hit : current);
      if (hit >= 0) {
        setCurrent(hit);
        setNotice(`${names[hit] ?? ""} picked up: drag it where it belongs.`);
        return;
      }
      placeAt(current, point);
      const p = at(point);
      setNotice(`${currentName} placed at (${p[0]}, ${p[1]}).`);
    };
    return (
      <svg
        className="image-layer keypoints-layer"
        viewBox={`0 0 ${width} ${height}`}
        preserveAspectRatio="none"
        aria-hidden="true"
        data-size={`${width} ${height}`}
        onPointerDown={onPointerDown}
        onPointerMove={(event) => {
          if (dragging !== null) placeAt(dragging, picturePoint(event, event.currentTarget, shown));
        }}
        onPointerUp={() => setDragging(null)}
        onPointerCancel={() => setDragging(null)}
      >
        {marks.map((m, n) => {
          if (m.at === null || m.hidden) return null;
          const isCurrent = n === current;
          return (
            <g key={n} className={isCurrent ? "keypoint keypoint-current" : "keypoint"}>
              {isCurrent && <circle cx={m.at[0]} cy={m.at[1]} r={(DOT + 5) * unit} fill="none" stroke="#ffffff" strokeWidth={3} vectorEffect="non-scaling-stroke" />}
              <circle cx={m.at[0]} cy={m.at[1]} r={DOT * unit} fill={colourAt(n)} stroke="#ffffff" strokeWidth={2} vectorEffect="non-scaling-stroke" />
              <text x={m.at[0] + (DOT + 3) * unit} y={m.at[1] - (DOT + 1) * unit} fontSize={12 * unit} className="layer-caption">
                {/* the current one by name, the others by their number in the list (names crowd) */}
                {isCurrent ? `${n + 1} ${names[n] ?? ""}` : n + 1}
              </text>
            </g>
          );
        })}
      </svg>
    );
  }

  const placed = marks.filter((m) => m.at !== null && !m.hidden).length;
  const hidden = marks.filter((m) => m.hidden).length;
  return (
    <>
      <ItemFrame externalId={item.external_id}>
        <p className="muted">
          Click on the picture to place the current keypoint; N moves on to the next (Tab too while the picture has the focus), Shift+N
          or P back. Press a placed keypoint to make it current and drag it; the arrow keys nudge the current one (Shift: ten pixels); V
          marks it not visible, Delete takes it away. Enter sends them all; a keypoint not placed is sent as not visible.
        </p>
        <div
          ref={stage}
          className="keypoints-stage"
          tabIndex={0}
          role="group"
          aria-label={`${name}: place ${currentName} here`}
          aria-keyshortcuts="N Tab V Delete ArrowLeft ArrowRight ArrowUp ArrowDown"
        >
          <ImageStage src={src} name={name} onSize={setSize}>
            {layer}
          </ImageStage>
        </div>
      </ItemFrame>
      <fieldset className="keypoints-list">
        <legend>Keypoints: the current one is placed by a click</legend>
        <ol aria-label="Keypoints">
          {names.map((keypoint, n) => (
            <li key={keypoint} className={n === current ? "objects-row objects-selected" : "objects-row"}>
              <span className="keypoints-swatch" style={{ background: colourAt(n) }} aria-hidden="true">
                {n + 1}
              </span>
              <label className="keypoints-name">
                <input type="radio" name={`${id}-current`} value={keypoint} checked={n === current} onChange={() => go(n)} />
                {keypoint}
              </label>
              <span className="keypoints-state">{stateOf(marks[n])}</span>
              <label>
                <input
                  type="checkbox"
                  checked={marks[n]?.hidden ?? false}
                  onChange={() => toggleHidden(n)}
                  aria-label={`Not visible: ${keypoint}`}
                  aria-keyshortcuts={n === current ? "V" : undefined}
                />{" "}
                Not visible
              </label>
            </li>
          ))}
        </ol>
      </fieldset>
      <div className="segments-transport">
        <button type="button" onClick={() => go(current - 1)} aria-keyshortcuts="Shift+N">
          <Kbd>P</Kbd> Previous keypoint
        </button>
        <button type="button" onClick={() => go(current + 1)} aria-keyshortcuts="N">
          <Kbd>N</Kbd> Next keypoint
        </button>
        <button type="button" onClick={() => clear(current)} aria-keyshortcuts="Delete">
          Take {currentName} away
        </button>
      </div>
      <p role="status">
        {placed} of {names.length} keypoints placed{hidden > 0 ? `, ${hidden} not visible` : ""}; current: {currentName} (
        {stateOf(mark)}){notice ? `. ${notice}` : ""}
      </p>
      <button type="button" className="primary" aria-keyshortcuts="Enter" onClick={send}>
        Submit the keypoints
      </button>
    </>
  );
}
