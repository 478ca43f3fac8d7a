// Any kind without a widget of its own: the item as the item view shows it, and the label typed
// as JSON, checked to parse before it is sent (the service checks its shape). The kind's summary
// and shape come from GET /v1/kinds, so a kind added to the service is usable at once.
import { useId, useState } from "react";

import { ItemView } from "../ItemView";
import { ItemFrame } from "./ItemFrame";
import type { WidgetProps } from "./types";

/** Why `text` is not JSON, or null when it is. */
function notJson(text: string): string | null {
  try {
    JSON.parse(text);
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : "not JSON";
  }
}

export function FallbackWidget({ item, name, onSubmit, kind }: WidgetProps) {
  const id = useId();
  const [text, setText] = useState("");
  const [problem, setProblem] = useState<string | null>(null);

  function send() {
    const wrong = notJson(text);
    setProblem(wrong);
    if (wrong === null) onSubmit(text.trim());
  }

  return (
    <>
      <ItemFrame externalId={item.external_id}>
        <ItemView data={item.data} name={name} />
      </ItemFrame>
      <div className="buyer-field text-answer">
        <label htmlFor={`${id}-json`}>Label as JSON ({item.label_type})</label>
        <textarea
          id={`${id}-json`}
          className="json-answer"
          rows={8}
          spellCheck={false}
          value={text}
          onChange={(event) => {
            setText(event.target.value);
            setProblem(null);
          }}
          aria-describedby={`${id}-hint${problem !== null ? ` ${id}-error` : ""}`}
          aria-invalid={problem !== null}
          aria-keyshortcuts="Control+Enter"
          onKeyDown={(event) => {
            if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
              event.preventDefault();
              send();
            }
          }}
        />
        <div id={`${id}-hint`} className="muted">
          <p>
            {kind !== undefined
              ? `A ${item.label_type} label: ${kind.summary}.`
              : `This page has no tool for ${item.label_type} labels yet: type the label as JSON.`}
            {kind?.needs_classes && item.label_classes.length > 0 && ` ${kind.classes_are}: ${item.label_classes.join(", ")}.`}{" "}
            Ctrl+Enter sends it.
          </p>
        </div>
        {problem !== null && (
          <p id={`${id}-error`} className="buyer-field-error" role="alert">
            This is not JSON ({problem}); correct it and send again.
          </p>
        )}
      </div>
      <button type="button" className="primary" disabled={text.trim() === ""} onClick={send}>
        Submit the JSON label
      </button>
    </>
  );
}
