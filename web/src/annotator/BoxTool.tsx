// Boxes: drag on the item's picture to draw one box, or type its corners; the label is the box
// as the JSON text [x_min, y_min, x_max, y_max] in the picture's own pixels. Without onSubmit it
// only shows a given box over the picture (a reviewer judging a label).
import { type PointerEvent, useRef, useState } from "react";

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

export function BoxTool({
  src,
  name,
  onSubmit,
  shown = null,
}: {
  src: string;
  name: string;
  /** Absent: read-only, the picture with `shown` drawn over it and nothing to draw or send. */
  onSubmit?: (value: string) => void;
  shown?: Box | null;
}) {
  const image = useRef<HTMLImageElement>(null);
  const [drawing, setBox] = useState<Box | null>(null);
  const readOnly = onSubmit === undefined;
  const box = readOnly ? shown : drawing;
  const [start, setStart] = useState<[number, number] | null>(null);
  const [natural, setNatural] = useState<{ width: number; height: number } | null>(null);

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

  function spanning(a: [number, number], b: [number, number]): Box {
    return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])];
  }

  const overlay =
    box && natural && natural.width > 0 && natural.height > 0
      ? {
          left: `${(box[0] / natural.width) * 100}%`,
          top: `${(box[1] / natural.height) * 100}%`,
          width: `${((box[2] - box[0]) / natural.width) * 100}%`,
          height: `${((box[3] - box[1]) / natural.height) * 100}%`,
        }
      : undefined;

  function corner(index: number, raw: string) {
    const value = Number.parseInt(raw, 10);
    const next: Box = box ? [...box] : [0, 0, 0, 0];
    next[index] = Number.isFinite(value) ? Math.max(0, value) : 0;
    setBox(next);
  }

  return (
    <div className="box-tool">
      {!readOnly && <p className="muted">Drag on the picture to draw the box, or type its corners below.</p>}
      <div
        className="box-canvas"
        style={readOnly ? { cursor: "default", touchAction: "auto" } : undefined}
        {...(readOnly
          ? {}
          : {
              onPointerDown: (event: PointerEvent<HTMLDivElement>) => {
                event.currentTarget.setPointerCapture(event.pointerId);
                const point = toPixels(event);
                setStart(point);
                setBox([point[0], point[1], point[0], point[1]]);
              },
              onPointerMove: (event: PointerEvent<HTMLDivElement>) => {
                if (start !== null) setBox(spanning(start, toPixels(event)));
              },
              onPointerUp: (event: PointerEvent<HTMLDivElement>) => {
                if (start !== null) setBox(spanning(start, toPixels(event)));
                setStart(null);
              },
            })}
      >
        <img
          ref={image}
          className="item-image"
          src={src}
          alt={name}
          draggable={false}
          referrerPolicy="no-referrer"
          onLoad={(event) =>
            setNatural({ width: event.currentTarget.naturalWidth, height: event.currentTarget.naturalHeight })
          }
        />
        {overlay && <div className="box-drawn" style={overlay} aria-hidden="true" />}
      </div>
      {!readOnly && (
        <>
          <fieldset className="corners">
            <legend>Box corners, in the picture's pixels</legend>
            {["x min", "y min", "x max", "y max"].map((label, index) => (
              <label key={label}>
                {label}{" "}
                <input
                  type="number"
                  min={0}
                  inputMode="numeric"
                  value={box ? box[index] : ""}
                  onChange={(event) => corner(index, event.target.value)}
                />
              </label>
            ))}
          </fieldset>
          <button
            type="button"
            className="primary"
            disabled={box === null || box[2] <= box[0] || box[3] <= box[1]}
            onClick={() => {
              if (box !== null) onSubmit?.(JSON.stringify(box));
              setBox(null);
            }}
          >
            Submit the box
          </button>
        </>
      )}
    </div>
  );
}
