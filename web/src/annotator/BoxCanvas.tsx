// The picture boxes are drawn on, shared by the boxes tool (one box) and the objects widget (many):
// a drag on the picture gives a box in the picture's own pixels; the boxes given are drawn over it
// in percent of its size, so they stay in place however large the picture is shown.
import { type PointerEvent, type ReactNode, useRef, useState } from "react";

export type Box = [number, number, number, number];

/** The item's picture: its data as a URL, or the first field that is one. */
export function pictureOf(data: unknown): string | null {
  const candidates =
    typeof data === "string"
      ? [data]
      : data !== null && typeof data === "object"
        ? Object.values(data as Record<string, unknown>)
        : [];
  const url = candidates.find(
    (value): value is string => typeof value === "string" && /^(https?:\/\/|\/|data:image\/)\S+$/.test(value),
  );
  return url ?? null;
}

/** The box spanned by two corners, min before max. */
export function spanning(a: [number, number], b: [number, number]): Box {
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])];
}

/** A box with an area (a click is no box). */
export function hasArea(box: Box | null): box is Box {
  return box !== null && box[2] > box[0] && box[3] > box[1];
}

/** One box drawn over the picture: where, and optionally a caption and a look of its own. */
export interface ShownBox {
  box: Box;
  caption?: ReactNode;
  selected?: boolean;
}

export function BoxCanvas({
  src,
  name,
  boxes,
  onDraw,
}: {
  src: string;
  name: string;
  /** The boxes drawn over the picture. */
  boxes: ShownBox[];
  /** Absent: read-only. Called as the pointer drags (`done` false) and once when it is released. */
  onDraw?: (box: Box, done: boolean) => void;
}) {
  const image = useRef<HTMLImageElement>(null);
  const [start, setStart] = useState<[number, number] | null>(null);
  const [natural, setNatural] = useState<{ width: number; height: number } | null>(null);
  const readOnly = onDraw === undefined;

  /** A pointer position as the picture's own pixel coordinates, inside the picture. */
  function toPixels(event: PointerEvent): [number, number] {
    const img = image.current;
    if (img === null) return [0, 0];
    const rect = img.getBoundingClientRect();
    const scaleX = img.naturalWidth / rect.width;
    const scaleY = img.naturalHeight / rect.height;
    const x = Math.min(Math.max(event.clientX - rect.left, 0), rect.width) * scaleX;
    const y = Math.min(Math.max(event.clientY - rect.top, 0), rect.height) * scaleY;
    return [Math.round(x), Math.round(y)];
  }

  // Once its proportions are known the picture is sized by its width, its height following:
  // a fixed height with a width clamped to a phone's screen letterboxed it (object-fit), and the
  // pointer's place on the element was then not its place on the picture.
  const sized =
    natural === null || natural.height <= 0
      ? undefined
      : { width: `min(100%, calc(min(50vh, 24rem) * ${natural.width / natural.height}))` };

  function placed(box: Box) {
    if (natural === null || natural.width <= 0 || natural.height <= 0) return undefined;
    return {
      left: `${(box[0] / natural.width) * 100}%`,
      top: `${(box[1] / natural.height) * 100}%`,
      width: `${((box[2] - box[0]) / natural.width) * 100}%`,
      height: `${((box[3] - box[1]) / natural.height) * 100}%`,
    };
  }

  return (
    <div
      className="box-canvas"
      style={{ ...sized, ...(readOnly ? { cursor: "default", touchAction: "auto" } : {}) }}
      {...(readOnly
        ? {}
        : {
            onPointerDown: (event: PointerEvent<HTMLDivElement>) => {
              event.currentTarget.setPointerCapture(event.pointerId);
              const point = toPixels(event);
              setStart(point);
              onDraw([point[0], point[1], point[0], point[1]], false);
            },
            onPointerMove: (event: PointerEvent<HTMLDivElement>) => {
              if (start !== null) onDraw(spanning(start, toPixels(event)), false);
            },
            onPointerUp: (event: PointerEvent<HTMLDivElement>) => {
              if (start !== null) onDraw(spanning(start, toPixels(event)), true);
              setStart(null);
            },
          })}
    >
      <img
        ref={image}
        className="item-image"
        style={sized === undefined ? undefined : { width: "100%", height: "auto" }}
        src={src}
        alt={name}
        draggable={false}
        referrerPolicy="no-referrer"
        onLoad={(event) =>
          setNatural({ width: event.currentTarget.naturalWidth, height: event.currentTarget.naturalHeight })
        }
      />
      {boxes.map(({ box, caption, selected }, index) => {
        const style = placed(box);
        if (style === undefined) return null;
        return (
          <div key={index} className={selected ? "box-drawn box-selected" : "box-drawn"} style={style} aria-hidden="true">
            {caption !== undefined && <span className="box-caption">{caption}</span>}
          </div>
        );
      })}
    </div>
  );
}
