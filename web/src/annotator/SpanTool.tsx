// Spans: select a stretch of the item's text; the label is [start, end) as the JSON text of its
// character offsets, counted in Unicode code points as the service counts them.
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

export function SpanTool({ text, onSubmit }: { text: string; onSubmit: (value: string) => void }) {
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
