// Boxes: drag on the item's picture to draw one box, or type its corners; the label is the box
// as the JSON text [x_min, y_min, x_max, y_max] in the picture's own pixels. Without onSubmit it
// only shows a given box over the picture (a reviewer judging a label).
import { useState } from "react";

import { type Box, BoxCanvas, hasArea, pictureOf } from "./BoxCanvas";

export { type Box, pictureOf };

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
  const [drawing, setBox] = useState<Box | null>(null);
  const readOnly = onSubmit === undefined;
  const box = readOnly ? shown : drawing;

  function corner(index: number, raw: string) {
    const value = Number.parseInt(raw, 10);
    const next: Box = box ? [...box] : [0, 0, 0, 0];
    next[index] = Number.isFinite(value) ? Math.max(0, value) : 0;
    setBox(next);
  }

  return (
    <div className="box-tool">
      {!readOnly && <p className="muted">Drag on the picture to draw the box, or type its corners below.</p>}
      <BoxCanvas
        src={src}
        name={name}
        boxes={box ? [{ box }] : []}
        {...(readOnly ? {} : { onDraw: (drawn: Box) => setBox(drawn) })}
      />
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
            disabled={!hasArea(box)}
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
