// Cuboids: every object of a point cloud as a box standing upright, turned about the vertical.
// The cloud is drawn from above (x to the right, y up) and from the side; a drag in the top view
// places a cuboid's footprint (its height found from the points inside it), a drag in the side
// view sets its bottom and top. With a cuboid selected: arrows move it (Shift: further), Q and E
// turn it, W/S make it longer or shorter, D/A wider or narrower, R/F taller or lower, PageUp and
// PageDown lift and lower it; keys 1 to 9 pick the class, Delete removes it, Enter sends
// [{"class": c, "center": [x, y, z], "size": [length, width, height], "yaw": radians}, ...].
import { type PointerEvent, useEffect, useId, useMemo, useRef, useState } from "react";

import { ClassPicker, classForKey, usePageKeyEvents } from "./ClassPicker";
import { ItemFrame } from "./ItemFrame";
import { ObjectRow } from "./ObjectRow";
import { cloudOf, rounded, useFetchedMedia } from "./media";
import { WithoutMedia } from "./NoMedia";
import { colourOf } from "./SegmentsWidget";
import type { WidgetProps } from "./types";

interface Cuboid {
  class: string;
  center: [number, number, number];
  size: [number, number, number];
  yaw: number;
}

interface Cloud {
  xyz: Float32Array; // x, y, z of each point
  count: number;
  min: [number, number, number];
  max: [number, number, number];
}

const TOP = 600; // the top view's pixels a side
const SIDE_W = 600;
const SIDE_H = 220;
const STEP = 0.1; // metres a key moves or resizes
const TURN = (5 * Math.PI) / 180;
const SMALLEST = 0.1; // metres: no side shorter

/** The points of a float32 x, y, z file (x, y, z, intensity when four floats a point fit). */
export function readCloud(bytes: ArrayBuffer): Cloud {
  const stride = bytes.byteLength % 12 !== 0 && bytes.byteLength % 16 === 0 ? 16 : 12;
  const count = Math.floor(bytes.byteLength / stride);
  const view = new DataView(bytes);
  const xyz = new Float32Array(count * 3);
  const min: [number, number, number] = [Infinity, Infinity, Infinity];
  const max: [number, number, number] = [-Infinity, -Infinity, -Infinity];
  for (let p = 0; p < count; p += 1) {
    for (let axis = 0; axis < 3; axis += 1) {
      const value = view.getFloat32(p * stride + axis * 4, true);
      xyz[p * 3 + axis] = value;
      if (value < (min[axis] ?? 0)) min[axis] = value;
      if (value > (max[axis] ?? 0)) max[axis] = value;
    }
  }
  return { xyz, count, min, max };
}

/** A point in the cuboid's own frame: along its length, across it, and up. */
function local(cuboid: Cuboid, x: number, y: number): [number, number] {
  const dx = x - cuboid.center[0];
  const dy = y - cuboid.center[1];
  const cos = Math.cos(cuboid.yaw);
  const sin = Math.sin(cuboid.yaw);
  return [dx * cos + dy * sin, -dx * sin + dy * cos];
}

/** The footprint's corners in the x-y plane, front left first. */
function corners(cuboid: Cuboid): [number, number][] {
  const [l, w] = cuboid.size;
  const cos = Math.cos(cuboid.yaw);
  const sin = Math.sin(cuboid.yaw);
  return [
    [l / 2, w / 2],
    [l / 2, -w / 2],
    [-l / 2, -w / 2],
    [-l / 2, w / 2],
  ].map(([a = 0, b = 0]) => [cuboid.center[0] + a * cos - b * sin, cuboid.center[1] + a * sin + b * cos]);
}

function heightColour(z: number, low: number, high: number): string {
  const t = Math.min(1, Math.max(0, (z - low) / Math.max(high - low, 0.5)));
  if (t < 0.08) return "#8a939d";
  const r = Math.round(40 + 180 * t);
  const g = Math.round(110 - 60 * t);
  const b = Math.round(200 - 160 * t);
  return `rgb(${r} ${g} ${b})`;
}

function metres(value: number): string {
  return `${value.toFixed(2)} m`;
}

function degrees(radians: number): string {
  return `${Math.round((radians * 180) / Math.PI)}°`;
}

export function CuboidsWidget({ item, name, onSubmit }: WidgetProps) {
  const id = useId();
  const classes = item.label_classes;
  const url = cloudOf(item.data);
  const fetched = useFetchedMedia(url, "application/octet-stream");
  const cloud = useMemo(() => (fetched.state === "ready" ? readCloud(fetched.bytes) : null), [fetched]);
  const top = useRef<HTMLCanvasElement>(null);
  const side = useRef<HTMLCanvasElement>(null);
  const [cuboids, setCuboids] = useState<Cuboid[]>([]);
  const [selected, setSelected] = useState<number | null>(null);
  const [next, setNext] = useState(classes[0] ?? "");
  const [drag, setDrag] = useState<{ view: "top" | "side"; from: [number, number]; to: [number, number] } | null>(null);
  const [notice, setNotice] = useState("");

  // The top view: the cloud's extent, centred, one scale both ways.
  const view = useMemo(() => {
    if (cloud === null || cloud.count === 0) return { cx: 0, cy: 0, scale: 10 };
    const span = Math.max(cloud.max[0] - cloud.min[0], cloud.max[1] - cloud.min[1], 1);
    return { cx: (cloud.min[0] + cloud.max[0]) / 2, cy: (cloud.min[1] + cloud.max[1]) / 2, scale: (TOP - 24) / span };
  }, [cloud]);
  const toTop = (x: number, y: number): [number, number] => [TOP / 2 + (x - view.cx) * view.scale, TOP / 2 - (y - view.cy) * view.scale];
  const fromTop = (sx: number, sy: number): [number, number] => [view.cx + (sx - TOP / 2) / view.scale, view.cy - (sy - TOP / 2) / view.scale];
  const chosen = selected === null ? undefined : cuboids[selected];

  // The side view: the selected cuboid from its side (along its length, and up), points near it
  // only; else the whole cloud along x.
  const sideView = useMemo(() => {
    if (cloud === null) return { h0: 0, z0: 0, scale: 10 };
    if (chosen === undefined) {
      const scale = Math.min((SIDE_W - 24) / Math.max(cloud.max[0] - cloud.min[0], 1), (SIDE_H - 24) / Math.max(cloud.max[2] - cloud.min[2], 0.5));
      return { h0: (cloud.min[0] + cloud.max[0]) / 2, z0: (cloud.min[2] + cloud.max[2]) / 2, scale };
    }
    const [l, , h] = chosen.size;
    const scale = Math.min(SIDE_W / (l + 4), SIDE_H / (h + 2));
    return { h0: 0, z0: chosen.center[2], scale };
  }, [cloud, chosen]);
  const toSide = (along: number, z: number): [number, number] => [SIDE_W / 2 + (along - sideView.h0) * sideView.scale, SIDE_H / 2 - (z - sideView.z0) * sideView.scale];
  const zFromSide = (sy: number) => sideView.z0 - (sy - SIDE_H / 2) / sideView.scale;

  useEffect(() => {
    const context = top.current?.getContext("2d");
    if (!context || cloud === null) return;
    context.fillStyle = "#10151c";
    context.fillRect(0, 0, TOP, TOP);
    for (let p = 0; p < cloud.count; p += 1) {
      const [sx, sy] = toTop(cloud.xyz[3 * p] ?? 0, cloud.xyz[3 * p + 1] ?? 0);
      context.fillStyle = heightColour(cloud.xyz[3 * p + 2] ?? 0, cloud.min[2], cloud.max[2]);
      context.fillRect(sx - 1, sy - 1, 2.5, 2.5);
    }
    cuboids.forEach((cuboid, n) => {
      const points = corners(cuboid).map(([x, y]) => toTop(x, y));
      context.strokeStyle = n === selected ? "#ffffff" : colourOf(classes, cuboid.class);
      context.lineWidth = n === selected ? 3 : 2;
      context.beginPath();
      points.forEach(([sx, sy], k) => (k === 0 ? context.moveTo(sx, sy) : context.lineTo(sx, sy)));
      context.closePath();
      context.stroke();
      // its heading: from the centre to the middle of its front
      const [cx, cy] = toTop(cuboid.center[0], cuboid.center[1]);
      const front = toTop(cuboid.center[0] + (Math.cos(cuboid.yaw) * cuboid.size[0]) / 2, cuboid.center[1] + (Math.sin(cuboid.yaw) * cuboid.size[0]) / 2);
      context.beginPath();
      context.moveTo(cx, cy);
      context.lineTo(front[0], front[1]);
      context.stroke();
      context.fillStyle = "#ffffff";
      context.font = "bold 15px system-ui, sans-serif";
      context.fillText(`${n + 1} ${cuboid.class}`, cx + 6, cy - 6);
    });
    if (drag?.view === "top") {
      context.strokeStyle = colourOf(classes, next);
      context.setLineDash([6, 4]);
      context.lineWidth = 2;
      context.strokeRect(drag.from[0], drag.from[1], drag.to[0] - drag.from[0], drag.to[1] - drag.from[1]);
      context.setLineDash([]);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps -- toTop follows view
  }, [cloud, cuboids, selected, drag, view, classes, next]);

  useEffect(() => {
    const context = side.current?.getContext("2d");
    if (!context || cloud === null) return;
    context.fillStyle = "#10151c";
    context.fillRect(0, 0, SIDE_W, SIDE_H);
    for (let p = 0; p < cloud.count; p += 1) {
      const x = cloud.xyz[3 * p] ?? 0;
      const y = cloud.xyz[3 * p + 1] ?? 0;
      const z = cloud.xyz[3 * p + 2] ?? 0;
      let along = x;
      if (chosen !== undefined) {
        const [a, b] = local(chosen, x, y);
        if (Math.abs(b) > chosen.size[1] / 2 + 0.5) continue;
        along = a;
      }
      const [sx, sy] = toSide(along, z);
      if (sx < -2 || sx > SIDE_W + 2) continue;
      context.fillStyle = heightColour(z, cloud.min[2], cloud.max[2]);
      context.fillRect(sx - 1, sy - 1, 2.5, 2.5);
    }
    if (chosen !== undefined) {
      const [l, , h] = chosen.size;
      const [x0, y0] = toSide(-l / 2, chosen.center[2] + h / 2);
      const [x1, y1] = toSide(l / 2, chosen.center[2] - h / 2);
      context.strokeStyle = "#ffffff";
      context.lineWidth = 2;
      context.strokeRect(x0, y0, x1 - x0, y1 - y0);
    }
    if (drag?.view === "side") {
      context.strokeStyle = colourOf(classes, next);
      context.setLineDash([6, 4]);
      context.strokeRect(0, drag.from[1], SIDE_W, drag.to[1] - drag.from[1]);
      context.setLineDash([]);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps -- toSide follows sideView
  }, [cloud, chosen, drag, sideView, classes, next]);

  function change(index: number, update: (c: Cuboid) => Cuboid) {
    setCuboids((all) => all.map((c, n) => (n === index ? update(c) : c)));
  }

  /** A new cuboid on the footprint between two corners: its bottom at the ground around it,
   * its top at the highest point inside it (1.5 m tall if nothing stands there). */
  function place(a: [number, number], b: [number, number]) {
    if (cloud === null) return;
    const [x0, x1] = [Math.min(a[0], b[0]), Math.max(a[0], b[0])];
    const [y0, y1] = [Math.min(a[1], b[1]), Math.max(a[1], b[1])];
    if (x1 - x0 < SMALLEST || y1 - y0 < SMALLEST) return;
    let ground = Infinity;
    let highest = -Infinity;
    for (let p = 0; p < cloud.count; p += 1) {
      const x = cloud.xyz[3 * p] ?? 0;
      const y = cloud.xyz[3 * p + 1] ?? 0;
      const z = cloud.xyz[3 * p + 2] ?? 0;
      if (x >= x0 - 1 && x <= x1 + 1 && y >= y0 - 1 && y <= y1 + 1) ground = Math.min(ground, z);
      if (x >= x0 && x <= x1 && y >= y0 && y <= y1) highest = Math.max(highest, z);
    }
    if (!Number.isFinite(ground)) ground = cloud.min[2];
    const height = highest - ground >= 0.2 ? highest - ground : 1.5;
    const cuboid: Cuboid = {
      class: next,
      center: [rounded((x0 + x1) / 2, 2), rounded((y0 + y1) / 2, 2), rounded(ground + height / 2, 2)],
      size: [rounded(x1 - x0, 2), rounded(y1 - y0, 2), rounded(height, 2)],
      yaw: 0,
    };
    setCuboids((all) => [...all, cuboid]);
    setSelected(cuboids.length);
    setNotice(`Cuboid ${cuboids.length + 1} placed: ${next}, ${metres(cuboid.size[2])} tall.`);
  }

  function remove(index: number) {
    setCuboids((all) => all.filter((_, n) => n !== index));
    setSelected(null);
    setNotice(`Cuboid ${index + 1} deleted.`);
  }

  function pick(value: string) {
    setNext(value);
    if (selected !== null) change(selected, (c) => ({ ...c, class: value }));
  }

  function send() {
    onSubmit(
      JSON.stringify(
        cuboids.map((c) => ({
          class: c.class,
          center: c.center.map((v) => rounded(v, 2)),
          size: c.size.map((v) => rounded(v, 2)),
          yaw: rounded(c.yaw, 3),
        })),
      ),
    );
  }

  usePageKeyEvents((event) => {
    const value = classForKey(classes, event.key);
    if (value !== undefined) {
      pick(value);
      return true;
    }
    if (event.key === "Enter") {
      if (cuboids.length === 0) return false;
      send();
      return true;
    }
    if (selected === null) return false;
    const far = event.shiftKey ? 5 : 1;
    const move = (dx: number, dy: number, dz: number) =>
      change(selected, (c) => ({ ...c, center: [rounded(c.center[0] + dx, 2), rounded(c.center[1] + dy, 2), rounded(c.center[2] + dz, 2)] }));
    const grow = (axis: 0 | 1 | 2, by: number) =>
      change(selected, (c) => {
        const size: [number, number, number] = [...c.size];
        size[axis] = rounded(Math.max(SMALLEST, size[axis] + by), 2);
        // a taller or lower box keeps its bottom where it stands
        const center: [number, number, number] = axis === 2 ? [c.center[0], c.center[1], rounded(c.center[2] + (size[2] - c.size[2]) / 2, 3)] : c.center;
        return { ...c, size, center };
      });
    switch (event.key) {
      case "ArrowLeft":
        move(-STEP * far, 0, 0);
        return true;
      case "ArrowRight":
        move(STEP * far, 0, 0);
        return true;
      case "ArrowUp":
        move(0, STEP * far, 0);
        return true;
      case "ArrowDown":
        move(0, -STEP * far, 0);
        return true;
      case "PageUp":
        move(0, 0, STEP);
        return true;
      case "PageDown":
        move(0, 0, -STEP);
        return true;
      case "q":
      case "Q":
      case "e":
      case "E": {
        const sign = event.key.toLowerCase() === "q" ? 1 : -1;
        const by = event.shiftKey ? TURN / 5 : TURN;
        change(selected, (c) => ({ ...c, yaw: rounded(c.yaw + sign * by, 4) }));
        return true;
      }
      case "w":
      case "W":
        grow(0, STEP);
        return true;
      case "s":
      case "S":
        grow(0, -STEP);
        return true;
      case "d":
      case "D":
        grow(1, STEP);
        return true;
      case "a":
      case "A":
        grow(1, -STEP);
        return true;
      case "r":
      case "R":
        grow(2, STEP);
        return true;
      case "f":
      case "F":
        grow(2, -STEP);
        return true;
      case "Delete":
      case "Backspace":
        remove(selected);
        return true;
      case "Escape":
        setSelected(null);
        return true;
      default:
        return false;
    }
  });

  if (url === null || fetched.state === "failed") {
    return (
      <WithoutMedia item={item} name={name} what="point cloud to place boxes in"
        failure={fetched.state === "failed" ? fetched.message : undefined} />
    );
  }

  /** A pointer position in a canvas's own pixels. */
  function at(event: PointerEvent<HTMLCanvasElement>, width: number, height: number): [number, number] {
    const rect = event.currentTarget.getBoundingClientRect();
    return [((event.clientX - rect.left) / rect.width) * width, ((event.clientY - rect.top) / rect.height) * height];
  }

  return (
    <>
      <ItemFrame externalId={item.external_id}>
        <p className="muted">
          Drag in the top view to place a box on an object&apos;s footprint; drag in the side view to set its bottom and top. With a
          box selected: arrows move it (Shift: further), Q and E turn it, W/S make it longer or shorter, D/A wider or narrower,
          R/F taller or lower, PageUp/PageDown lift or lower it, Delete removes it. Keys 1 to 9 pick the class; Enter sends them all.
        </p>
        {cloud === null ? (
          <p className="muted">Loading the point cloud…</p>
        ) : (
          <div className="cuboids-views">
            <figure className="cuboids-view">
              <canvas
                ref={top}
                width={TOP}
                height={TOP}
                className="cuboids-top"
                role="img"
                aria-label={`${name}: the point cloud from above, ${cloud.count} points, ${cuboids.length} boxes`}
                data-points={cloud.count}
                data-view={`${view.cx} ${view.cy} ${view.scale} ${TOP}`}
                onPointerDown={(event) => {
                  event.currentTarget.setPointerCapture(event.pointerId);
                  const p = at(event, TOP, TOP);
                  setDrag({ view: "top", from: p, to: p });
                }}
                onPointerMove={(event) => {
                  if (drag?.view === "top") setDrag({ ...drag, to: at(event, TOP, TOP) });
                }}
                onPointerUp={(event) => {
                  if (drag?.view !== "top") return;
                  const end = at(event, TOP, TOP);
                  setDrag(null);
                  if (Math.hypot(end[0] - drag.from[0], end[1] - drag.from[1]) < 4) {
                    // a click picks the box under it
                    const [x, y] = fromTop(end[0], end[1]);
                    const hit = cuboids.findIndex((c) => {
                      const [a, b] = local(c, x, y);
                      return Math.abs(a) <= c.size[0] / 2 && Math.abs(b) <= c.size[1] / 2;
                    });
                    setSelected(hit >= 0 ? hit : null);
                    return;
                  }
                  place(fromTop(...drag.from), fromTop(...end));
                }}
              />
              <figcaption className="muted">From above: x to the right, y up; colour is height.</figcaption>
            </figure>
            <figure className="cuboids-view">
              <canvas
                ref={side}
                width={SIDE_W}
                height={SIDE_H}
                className="cuboids-side"
                data-view={`${sideView.h0} ${sideView.z0} ${sideView.scale} ${SIDE_W} ${SIDE_H}`}
                role="img"
                aria-label={chosen === undefined ? `${name}: the point cloud from the side` : `${name}: cuboid ${(selected ?? 0) + 1} from its side`}
                onPointerDown={(event) => {
                  if (chosen === undefined) return;
                  event.currentTarget.setPointerCapture(event.pointerId);
                  const p = at(event, SIDE_W, SIDE_H);
                  setDrag({ view: "side", from: p, to: p });
                }}
                onPointerMove={(event) => {
                  if (drag?.view === "side") setDrag({ ...drag, to: at(event, SIDE_W, SIDE_H) });
                }}
                onPointerUp={(event) => {
                  if (drag?.view !== "side" || selected === null) return;
                  const end = at(event, SIDE_W, SIDE_H);
                  setDrag(null);
                  const low = zFromSide(Math.max(drag.from[1], end[1]));
                  const high = zFromSide(Math.min(drag.from[1], end[1]));
                  if (high - low < SMALLEST) return;
                  change(selected, (c) => ({
                    ...c,
                    center: [c.center[0], c.center[1], rounded((low + high) / 2, 2)],
                    size: [c.size[0], c.size[1], rounded(high - low, 2)],
                  }));
                }}
              />
              <figcaption className="muted">
                {chosen === undefined
                  ? "From the side: x to the right, z up. Select a box to see it from its own side and drag its bottom and top."
                  : `Cuboid ${(selected ?? 0) + 1} from its side: its length to the right, z up; drag from its bottom to its top.`}
              </figcaption>
            </figure>
          </div>
        )}
      </ItemFrame>
      <ClassPicker
        classes={classes}
        value={next}
        onPick={pick}
        name={`${id}-class`}
        legend={`Class of the next box${selected !== null ? ` and of box ${selected + 1}` : ""}`}
      />
      <h2 className="objects-heading">Boxes placed</h2>
      {cuboids.length === 0 ? (
        <p className="muted">None yet. If there is nothing to mark, submit no boxes.</p>
      ) : (
        <ol className="objects-list" aria-label="Boxes placed">
          {cuboids.map((c, n) => (
            <ObjectRow key={n} noun="box" index={n} selected={n === selected} onSelect={() => setSelected(n === selected ? null : n)}
              classes={classes} value={c.class} onClass={(value) => change(n, (old) => ({ ...old, class: value }))}
              onDelete={() => remove(n)}>
              <span className="cuboids-numbers">
                centre {c.center.map((v) => v.toFixed(2)).join(", ")}; size {c.size.map((v) => v.toFixed(2)).join(" × ")} m; turned{" "}
                {degrees(c.yaw)}
              </span>
            </ObjectRow>
          ))}
        </ol>
      )}
      <p role="status">
        {cuboids.length === 1 ? "1 box" : `${cuboids.length} boxes`} placed
        {selected !== null ? `; box ${selected + 1} selected` : ""}
        {notice ? `. ${notice}` : ""}
      </p>
      <button type="button" className="primary" aria-keyshortcuts="Enter" onClick={send}>
        {cuboids.length === 0 ? "Submit no boxes" : "Submit the boxes"}
      </button>
    </>
  );
}
