// Polygons: any number of outlined regions on the item's picture, each with a class. Clicks on the
// picture place a polygon's vertices; a click on its first vertex, or Enter, closes it (Escape
// drops the one in progress, Backspace its last vertex). Keys 1 to 9 pick the class (of the next
// polygon and of the selected one). A polygon is selected in the list or by a press on one of its
// vertices, which a drag then moves; , and . step through its vertices, the arrow keys move the
// selected vertex a pixel (Shift: ten), Delete removes the vertex (or, with none selected, the
// polygon). Enter sends [{"class": c, "points": [[x, y], ...]}, ...] in the picture's own pixels.
import { type PointerEvent, useId, useRef, useState } from "react";

import { pictureOf } from "../BoxCanvas";
import { ImageStage, picturePoint, type Stage } from "../ImageStage";
import { ClassPicker, classForKey, usePageKeyEvents } from "./ClassPicker";
import { ItemFrame } from "./ItemFrame";
import { ObjectRow } from "./ObjectRow";
import { keepFocusAt } from "./focus";
import { Kbd } from "./keys";
import { clamp, rounded } from "./media";
import { WithoutMedia } from "./NoMedia";
import { colourOf } from "./SegmentsWidget";
import type { WidgetProps } from "./types";

type Point = [number, number];

interface Outline {
  class: string;
  points: Point[];
}

/** The selected polygon, and the selected one of its vertices if any. */
type Selection = { polygon: number; vertex: number | null } | null;

const MIN_POINTS = 3;
const HANDLE = 6; // screen pixels: a vertex's handle
const REACH = 11; // screen pixels: how near a press must be to take a vertex

/** Which side of the line a→b the point c is on: > 0 left, < 0 right, 0 on it. */
function turn(a: Point, b: Point, c: Point): number {
  return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
}

function within(a: Point, b: Point, c: Point): boolean {
  return Math.min(a[0], b[0]) <= c[0] && c[0] <= Math.max(a[0], b[0]) && Math.min(a[1], b[1]) <= c[1] && c[1] <= Math.max(a[1], b[1]);
}

/** Whether the segments p1–p2 and q1–q2 meet (cross or touch). */
function meet(p1: Point, p2: Point, q1: Point, q2: Point): boolean {
  const d1 = turn(q1, q2, p1);
  const d2 = turn(q1, q2, p2);
  const d3 = turn(p1, p2, q1);
  const d4 = turn(p1, p2, q2);
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) return true;
  return (
    (d1 === 0 && within(q1, q2, p1)) ||
    (d2 === 0 && within(q1, q2, p2)) ||
    (d3 === 0 && within(p1, p2, q1)) ||
    (d4 === 0 && within(p1, p2, q2))
  );
}

/** Twice the signed area the ring encloses (shoelace). */
function doubledArea(points: Point[]): number {
  let sum = 0;
  points.forEach((p, i) => {
    const q = points[(i + 1) % points.length] ?? p;
    sum += p[0] * q[1] - q[0] * p[1];
  });
  return sum;
}

/** Why the service would refuse this ring as a polygon, or null when it is a simple one: two
 * edges that are not neighbours meet, two neighbours fold back onto each other, or it encloses
 * no area. A hint shown while drawing; the service's check is the one that counts. */
export function notSimple(points: Point[]): string | null {
  const n = points.length;
  if (n < MIN_POINTS) return `it has ${n} points, fewer than ${MIN_POINTS}`;
  const edge = (i: number): [Point, Point] => [points[i] as Point, points[(i + 1) % n] as Point];
  for (let i = 0; i < n; i += 1) {
    const [a, b] = edge(i);
    if (a[0] === b[0] && a[1] === b[1]) return `vertices ${i + 1} and ${((i + 1) % n) + 1} are one point`;
    for (let j = i + 1; j < n; j += 1) {
      const [c, d] = edge(j);
      const neighbours = j === i + 1 || (i === 0 && j === n - 1);
      if (!neighbours) {
        if (meet(a, b, c, d)) return `edges ${i + 1} and ${j + 1} cross or touch`;
      } else {
        // neighbours share a vertex; they may not lie along each other back over it
        const shared = j === i + 1 ? b : a;
        const [p, q] = j === i + 1 ? [a, d] : [b, c];
        if (turn(p, shared, q) === 0 && (p[0] - shared[0]) * (q[0] - shared[0]) + (p[1] - shared[1]) * (q[1] - shared[1]) > 0) {
          return `edges ${i + 1} and ${j + 1} fold back over each other`;
        }
      }
    }
  }
  return doubledArea(points) === 0 ? "it encloses no area" : null;
}

function listed(points: Point[]): string {
  return points.map(([x, y]) => `${x},${y}`).join(" ");
}

export function PolygonsWidget({ item, name, onSubmit }: WidgetProps) {
  const id = useId();
  const src = pictureOf(item.data);
  const classes = item.label_classes;
  const [size, setSize] = useState<{ width: number; height: number } | null>(null);
  const [polygons, setPolygons] = useState<Outline[]>([]);
  const [draft, setDraft] = useState<Point[] | null>(null);
  const [hover, setHover] = useState<Point | null>(null);
  const [selected, setSelected] = useState<Selection>(null);
  const [dragging, setDragging] = useState<{ polygon: number; vertex: number } | null>(null);
  const [next, setNext] = useState(classes[0] ?? "");
  const [notice, setNotice] = useState("");
  const heading = useRef<HTMLHeadingElement>(null);

  const chosen = selected === null ? undefined : polygons[selected.polygon];

  function at(point: Point): Point {
    const width = size?.width ?? Infinity;
    const height = size?.height ?? Infinity;
    return [rounded(clamp(point[0], 0, width), 1), rounded(clamp(point[1], 0, height), 1)];
  }

  function place(point: Point) {
    const p = at(point);
    if (draft === null) {
      setDraft([p]);
      setSelected(null);
      setNotice(`Polygon started at (${p[0]}, ${p[1]}); click its next vertex.`);
    } else {
      setDraft([...draft, p]);
      setNotice(`Vertex ${draft.length + 1} at (${p[0]}, ${p[1]}).`);
    }
  }

  function close() {
    if (draft === null) return;
    if (draft.length < MIN_POINTS) {
      setNotice(`A polygon needs at least ${MIN_POINTS} vertices; this one has ${draft.length}.`);
      return;
    }
    setPolygons((all) => [...all, { class: next, points: draft }]);
    setSelected({ polygon: polygons.length, vertex: null });
    setDraft(null);
    setHover(null);
    setNotice(`Polygon ${polygons.length + 1} (${next}) closed with ${draft.length} vertices.`);
  }

  function cancel() {
    setDraft(null);
    setHover(null);
    setNotice("The polygon in progress was dropped.");
  }

  function change(index: number, update: (o: Outline) => Outline) {
    setPolygons((all) => all.map((o, n) => (n === index ? update(o) : o)));
  }

  function moveVertex(index: number, vertex: number, point: Point) {
    const p = at(point);
    change(index, (o) => ({ ...o, points: o.points.map((q, v) => (v === vertex ? p : q)) }));
  }

  function removePolygon(index: number, why = "") {
    setPolygons((all) => all.filter((_, n) => n !== index));
    setSelected(null);
    setNotice(`${why}Polygon ${index + 1} deleted.`);
    keepFocusAt(heading);
  }

  function removeVertex(index: number, vertex: number) {
    const outline = polygons[index];
    if (outline === undefined) return;
    if (outline.points.length <= MIN_POINTS) {
      removePolygon(index, `Polygon ${index + 1} had only ${MIN_POINTS} vertices: `);
      return;
    }
    change(index, (o) => ({ ...o, points: o.points.filter((_, v) => v !== vertex) }));
    setSelected({ polygon: index, vertex: null });
    setNotice(`Vertex ${vertex + 1} of polygon ${index + 1} deleted.`);
    keepFocusAt(heading);
  }

  function pick(value: string) {
    setNext(value);
    if (selected !== null) change(selected.polygon, (o) => ({ ...o, class: value }));
  }

  function select(index: number | null) {
    setSelected(index === null ? null : { polygon: index, vertex: null });
  }

  function send() {
    const all = draft !== null && draft.length >= MIN_POINTS ? [...polygons, { class: next, points: draft }] : polygons;
    onSubmit(JSON.stringify(all.map((o) => ({ class: o.class, points: o.points }))));
  }

  usePageKeyEvents((event) => {
    const { key } = event;
    // arrows on a radio button or a tick box move among them, as they do
    if (event.target instanceof HTMLInputElement && key.startsWith("Arrow")) return false;
    const value = classForKey(classes, key);
    if (value !== undefined) {
      pick(value);
      return true;
    }
    if (draft !== null) {
      if (key === "Enter") close();
      else if (key === "Escape") cancel();
      else if (key === "Backspace" || key === "Delete") {
        if (draft.length <= 1) cancel();
        else {
          setDraft(draft.slice(0, -1));
          setNotice(`Vertex ${draft.length} taken back.`);
        }
      } else return false;
      return true;
    }
    if (key === "Enter") {
      if (polygons.length === 0) return false;
      send();
      return true;
    }
    if (selected === null || chosen === undefined) return false;
    const count = chosen.points.length;
    const vertex = selected.vertex;
    const far = event.shiftKey ? 10 : 1;
    const nudge = (dx: number, dy: number) => {
      if (vertex === null) return false;
      const p = chosen.points[vertex];
      if (p !== undefined) moveVertex(selected.polygon, vertex, [p[0] + dx, p[1] + dy]);
      return true;
    };
    switch (key) {
      case "ArrowLeft":
        return nudge(-far, 0);
      case "ArrowRight":
        return nudge(far, 0);
      case "ArrowUp":
        return nudge(0, -far);
      case "ArrowDown":
        return nudge(0, far);
      case ".":
      case ">":
        setSelected({ ...selected, vertex: vertex === null ? 0 : (vertex + 1) % count });
        return true;
      case ",":
      case "<":
        setSelected({ ...selected, vertex: vertex === null ? count - 1 : (vertex - 1 + count) % count });
        return true;
      case "Delete":
      case "Backspace":
        if (vertex === null) removePolygon(selected.polygon);
        else removeVertex(selected.polygon, vertex);
        return true;
      case "Escape":
        setSelected(vertex === null ? null : { ...selected, vertex: null });
        return true;
      default:
        return false;
    }
  });

  if (src === null) {
    return <WithoutMedia item={item} name={name} what="picture to outline regions on" />;
  }

  /** The polygon and vertex a press at `point` takes: the selected polygon's first. */
  function vertexNear(point: Point, reach: number): { polygon: number; vertex: number } | null {
    const order = polygons.map((_, n) => n);
    if (selected !== null) order.unshift(selected.polygon);
    let best: { polygon: number; vertex: number; distance: number } | null = null;
    for (const index of order) {
      const points = polygons[index]?.points ?? [];
      for (let vertex = 0; vertex < points.length; vertex += 1) {
        const p = points[vertex] as Point;
        const distance = Math.hypot(p[0] - point[0], p[1] - point[1]);
        if (distance <= reach && (best === null || distance < best.distance)) best = { polygon: index, vertex, distance };
      }
      if (best !== null) return { polygon: best.polygon, vertex: best.vertex };
    }
    return null;
  }

  function layer(stage: Stage) {
    const { width, height, unit } = stage;
    const onPointerDown = (event: PointerEvent<SVGSVGElement>) => {
      if (event.button !== 0) return;
      const point = picturePoint(event, event.currentTarget, stage);
      const reach = REACH * unit;
      if (draft !== null) {
        const first = draft[0];
        if (first !== undefined && draft.length >= MIN_POINTS && Math.hypot(first[0] - point[0], first[1] - point[1]) <= reach) {
          close();
        } else {
          place(point);
        }
        return;
      }
      const hit = vertexNear(point, reach);
      if (hit !== null) {
        event.currentTarget.setPointerCapture(event.pointerId);
        setSelected(hit);
        setDragging(hit);
        setNotice(`Polygon ${hit.polygon + 1}, vertex ${hit.vertex + 1} selected.`);
        return;
      }
      place(point);
    };
    const onPointerMove = (event: PointerEvent<SVGSVGElement>) => {
      const point = picturePoint(event, event.currentTarget, stage);
      if (dragging !== null) moveVertex(dragging.polygon, dragging.vertex, point);
      else if (draft !== null) setHover(at(point));
    };
    const stroke = { vectorEffect: "non-scaling-stroke" as const };
    return (
      <svg
        className="image-layer polygons-layer"
        viewBox={`0 0 ${width} ${height}`}
        preserveAspectRatio="none"
        aria-hidden="true"
        data-size={`${width} ${height}`}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={() => setDragging(null)}
        onPointerCancel={() => setDragging(null)}
        onPointerLeave={() => setHover(null)}
      >
        {polygons.map((o, n) => {
          const colour = colourOf(classes, o.class);
          const isSelected = selected?.polygon === n;
          const first = o.points[0] ?? [0, 0];
          return (
            <g key={n} className={isSelected ? "polygon polygon-selected" : "polygon"}>
              <polygon points={listed(o.points)} fill={colour} fillOpacity={isSelected ? 0.35 : 0.22} stroke={isSelected ? "#ffffff" : colour} strokeWidth={isSelected ? 4 : 2} {...stroke} />
              {isSelected && <polygon points={listed(o.points)} fill="none" stroke={colour} strokeWidth={2} {...stroke} />}
              {o.points.map((p, v) => (
                <circle
                  key={v}
                  cx={p[0]}
                  cy={p[1]}
                  r={(isSelected ? (selected.vertex === v ? HANDLE + 2 : HANDLE) : 3) * unit}
                  fill={isSelected && selected.vertex === v ? "#ffffff" : colour}
                  stroke={isSelected ? colour : "#ffffff"}
                  strokeWidth={isSelected ? 2 : 1}
                  {...stroke}
                />
              ))}
              <text x={first[0] + 4 * unit} y={first[1] - 5 * unit} fontSize={13 * unit} className="layer-caption">
                {n + 1} {o.class}
              </text>
            </g>
          );
        })}
        {draft !== null && (
          <g className="polygon-draft">
            <polyline points={listed(hover === null ? draft : [...draft, hover])} fill="none" stroke="#ffffff" strokeWidth={4} {...stroke} />
            <polyline points={listed(hover === null ? draft : [...draft, hover])} fill="none" stroke={colourOf(classes, next)} strokeWidth={2} strokeDasharray="6 4" {...stroke} />
            {draft.map((p, v) => (
              <circle
                key={v}
                cx={p[0]}
                cy={p[1]}
                r={(v === 0 && draft.length >= MIN_POINTS ? HANDLE + 3 : HANDLE - 1) * unit}
                fill={v === 0 ? "#ffffff" : colourOf(classes, next)}
                stroke={colourOf(classes, next)}
                strokeWidth={2}
                {...stroke}
              />
            ))}
          </g>
        )}
      </svg>
    );
  }

  const vertex = selected?.vertex ?? null;
  const point = chosen !== undefined && vertex !== null ? chosen.points[vertex] : undefined;
  return (
    <>
      <ItemFrame externalId={item.external_id}>
        <p className="muted">
          Click on the picture to place a polygon&apos;s vertices around a region; click its first vertex or press Enter to close it
          (Escape drops it, Backspace takes back a vertex). Keys 1 to 9 pick the class. Press a vertex to select its polygon and drag
          it; , and . step through the vertices, the arrow keys move the selected one (Shift: ten pixels), Delete removes it, or the
          polygon when no vertex is selected. Enter sends them all.
        </p>
        <ImageStage src={src} name={name} onSize={setSize}>
          {layer}
        </ImageStage>
      </ItemFrame>
      <ClassPicker
        classes={classes}
        value={next}
        onPick={pick}
        name={`${id}-class`}
        legend={`Class of the next polygon${selected !== null ? ` and of polygon ${selected.polygon + 1}` : ""}`}
      />
      {draft !== null && (
        <div className="segments-transport">
          <button type="button" onClick={close} aria-keyshortcuts="Enter" disabled={draft.length < MIN_POINTS}>
            <Kbd>Enter</Kbd> Close the polygon
          </button>
          <button type="button" onClick={cancel} aria-keyshortcuts="Escape">
            <Kbd>Esc</Kbd> Drop the polygon in progress
          </button>
        </div>
      )}
      <h2 ref={heading} tabIndex={-1} className="objects-heading">
        Polygons drawn
      </h2>
      {polygons.length === 0 ? (
        <p className="muted">None yet. If there is nothing to outline, submit no polygons.</p>
      ) : (
        <ol className="objects-list" aria-label="Polygons drawn">
          {polygons.map((o, n) => {
            const why = notSimple(o.points);
            return (
              <ObjectRow key={n} noun="polygon" index={n} selected={n === selected?.polygon}
                onSelect={() => select(n === selected?.polygon ? null : n)} classes={classes} value={o.class}
                onClass={(value) => change(n, (old) => ({ ...old, class: value }))} onDelete={() => removePolygon(n)}>
                <span>{o.points.length} vertices</span>
                {why !== null && <span className="polygons-warning">Not a simple polygon ({why}): the service will refuse it.</span>}
              </ObjectRow>
            );
          })}
        </ol>
      )}
      {chosen !== undefined && selected !== null && (
        <fieldset className="polygons-vertex">
          <legend>Vertices of polygon {selected.polygon + 1}</legend>
          <label>
            Selected vertex{" "}
            <select
              value={vertex === null ? "" : String(vertex)}
              onChange={(e) => setSelected({ ...selected, vertex: e.target.value === "" ? null : Number(e.target.value) })}
              aria-keyshortcuts=", ."
            >
              <option value="">none (Delete removes the polygon)</option>
              {chosen.points.map((p, v) => (
                <option key={v} value={v}>
                  {v + 1}: ({p[0]}, {p[1]})
                </option>
              ))}
            </select>
          </label>
          {point !== undefined && vertex !== null && (
            <>
              {(["x", "y"] as const).map((axis, a) => (
                <label key={axis}>
                  {axis} of vertex {vertex + 1}{" "}
                  <input
                    type="number"
                    className="polygons-coordinate"
                    step={1}
                    min={0}
                    max={a === 0 ? size?.width : size?.height}
                    value={point[a]}
                    onChange={(e) => {
                      const number = Number(e.target.value);
                      if (e.target.value === "" || !Number.isFinite(number)) return;
                      moveVertex(selected.polygon, vertex, a === 0 ? [number, point[1]] : [point[0], number]);
                    }}
                  />
                </label>
              ))}
              <button type="button" onClick={() => removeVertex(selected.polygon, vertex)} aria-keyshortcuts="Delete">
                Delete vertex {vertex + 1}
              </button>
            </>
          )}
        </fieldset>
      )}
      <p role="status">
        {polygons.length === 1 ? "1 polygon" : `${polygons.length} polygons`} drawn
        {draft !== null ? `; a polygon in progress with ${draft.length} ${draft.length === 1 ? "vertex" : "vertices"}` : ""}
        {selected !== null ? `; polygon ${selected.polygon + 1} selected` : ""}
        {point !== undefined && vertex !== null ? `, vertex ${vertex + 1} at (${point[0]}, ${point[1]})` : ""}
        {notice ? `. ${notice}` : ""}
      </p>
      <button type="button" className="primary" aria-keyshortcuts="Enter" onClick={send}>
        {polygons.length === 0 && (draft === null || draft.length < MIN_POINTS) ? "Submit no polygons" : "Submit the polygons"}
      </button>
    </>
  );
}
