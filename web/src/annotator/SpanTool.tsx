// Spans: select a stretch of the item's text; the label is [start, end) as the JSON text of its
// character offsets, counted in Unicode code points as the service counts them. Without onSubmit
// it only shows a given span highlighted in the text (a reviewer judging a label).
import { useRef, useState } from "react";

/** The item's text: its data when a string, else its `text` field or first text field. */
export function textOf(data: unknown): string | null {
  if (typeof data === "string") return data;
  if (data !== null && typeof data === "object") {
    const fields = data as Record<string, unknown>;
    if (typeof fields["text"] === "string") return fields["text"];
    const first = Object.values(fields).find((value) => typeof value === "string" && !/^(https?:)?\//.test(value));
    if (typeof first === "string") return first;
  }
  return null;
}

/** Code points before a UTF-16 offset (JavaScript strings count surrogate pairs as two). */
function codePoints(text: string, utf16Offset: number): number {
  return Array.from(text.slice(0, utf16Offset)).length;
}

export function SpanTool({
  text,
  onSubmit,
  shown = null,
}: {
  text: string;
  /** Absent: read-only, the text with `shown` (code-point offsets) highlighted, nothing to select or send. */
  onSubmit?: (value: string) => void;
  shown?: [number, number] | null;
}) {
  const paragraph = useRef<HTMLParagraphElement>(null);
  const [span, setSpan] = useState<[number, number] | null>(null);

  function readSelection() {
    const selection = window.getSelection();
    const node = paragraph.current?.firstChild;
    if (!selection || selection.rangeCount === 0 || !node) return;
    const range = selection.getRangeAt(0);
    if (range.startContainer !== node || range.endContainer !== node || range.collapsed) return;
    setSpan([codePoints(text, range.startOffset), codePoints(text, range.endOffset)]);
  }

  const chars = Array.from(text);
  if (onSubmit === undefined) {
    const [start, end] = shown ?? [0, 0];
    const marked = shown !== null && start >= 0 && start < end && end <= chars.length;
    return (
      <div className="span-tool">
        <p className="item-text span-text">
          {marked ? (
            <>
              {chars.slice(0, start).join("")}
              <mark style={{ background: "#fde68a", color: "inherit" }}>{chars.slice(start, end).join("")}</mark>
              {chars.slice(end).join("")}
            </>
          ) : (
            text
          )}
        </p>
      </div>
    );
  }
  return (
    <div className="span-tool">
      <p className="muted">Select the words with the mouse (or a finger), then submit.</p>
      <p ref={paragraph} className="item-text span-text" onMouseUp={readSelection} onKeyUp={readSelection} onTouchEnd={readSelection}>
        {text}
      </p>
      <p role="status">
        {span === null
          ? "Nothing selected"
          : `Selected characters ${span[0]} to ${span[1]}: “${chars.slice(span[0], span[1]).join("")}”`}
      </p>
      <button
        type="button"
        className="primary"
        disabled={span === null}
        onClick={() => {
          if (span !== null) onSubmit(JSON.stringify(span));
          setSpan(null);
          window.getSelection()?.removeAllRanges();
        }}
      >
        Submit the selection
      </button>
    </div>
  );
}
