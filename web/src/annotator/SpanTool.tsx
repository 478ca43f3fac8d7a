// Spans: select a stretch of the item's text; the label is [start, end) as the JSON text of its
// character offsets, counted in Unicode code points as the service counts them. The text is the
// item's own, or the one it points at on this server (`/media/texts/3.txt`, as a string or a
// `text_url`), loaded as the item view loads it: offsets count characters of that text, never of
// its URL. Without onSubmit it only shows a given span highlighted in the text (a reviewer
// judging a label).
import { type ReactNode, type RefObject, useRef, useState } from "react";

import { ownTextUrl, useTextAt } from "./ItemView";

/** A string that is a URL or a path, not words (no spaces). */
const URL_LIKE = /^(https?:\/\/|\/)\S*$/i;

/** Where the item's text is: its data when a string, else its `text` field, its `text_url`, its
 * first field of words, or its first field naming a text on this server. A text on this server
 * is named by its URL (SpanTool loads it); a URL elsewhere is no text to select in (null). */
export function textOf(data: unknown): string | null {
  const usable = (value: unknown): value is string =>
    typeof value === "string" && (!URL_LIKE.test(value) || ownTextUrl(value));
  if (typeof data === "string") return usable(data) ? data : null;
  if (data !== null && typeof data === "object" && !Array.isArray(data)) {
    const fields = data as Record<string, unknown>;
    for (const key of ["text", "text_url"]) {
      if (usable(fields[key])) return fields[key];
    }
    const values = Object.values(fields);
    const words = values.find((value) => typeof value === "string" && !URL_LIKE.test(value));
    if (typeof words === "string") return words;
    const linked = values.find((value) => typeof value === "string" && ownTextUrl(value));
    if (typeof linked === "string") return linked;
  }
  return null;
}

/** Code points before a UTF-16 offset (JavaScript strings count surrogate pairs as two). */
export function codePoints(text: string, utf16Offset: number): number {
  return Array.from(text.slice(0, utf16Offset)).length;
}

/** The text as textOf gives it, loaded first when it is the URL of a text on this server, handed
 * to `children` once there (offsets then count characters of the loaded text). */
export function LoadedText({ text, children }: { text: string; children: (loaded: string) => ReactNode }) {
  const url = ownTextUrl(text) ? text : null;
  const loaded = useTextAt(url);
  if (url === null) return children(text);
  if (loaded.error) {
    return (
      <p className="notice notice-error">
        {loaded.error.message}: there is no text to select. Skip the item as "Does not load".
      </p>
    );
  }
  if (loaded.data === undefined) return <p className="muted">Loading the item's text…</p>;
  return children(loaded.data);
}

/** The stretch of `text` selected in `paragraph` (whose only child is that text), as code-point
 * offsets [start, end); null when nothing in it is selected. */
export function selectedSpan(paragraph: RefObject<HTMLElement | null>, text: string): [number, number] | null {
  const selection = window.getSelection();
  const node = paragraph.current?.firstChild;
  if (!selection || selection.rangeCount === 0 || !node) return null;
  const range = selection.getRangeAt(0);
  if (range.startContainer !== node || range.endContainer !== node || range.collapsed) return null;
  return [codePoints(text, range.startOffset), codePoints(text, range.endOffset)];
}

/** The span tool over `text` as textOf gives it: the words themselves, or the URL on this server
 * of the text, loaded first (the offsets are then offsets into the loaded text). */
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
  return <LoadedText text={text}>{(loaded) => <Spans text={loaded} onSubmit={onSubmit} shown={shown} />}</LoadedText>;
}

function Spans({
  text,
  onSubmit,
  shown,
}: {
  text: string;
  onSubmit: ((value: string) => void) | undefined;
  shown: [number, number] | null;
}) {
  const paragraph = useRef<HTMLParagraphElement>(null);
  const [span, setSpan] = useState<[number, number] | null>(null);

  function readSelection() {
    const found = selectedSpan(paragraph, text);
    if (found !== null) setSpan(found);
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
