// Entities: select a stretch of the item's text with the mouse (as the spans tool does), then give
// it a class with its button or key 1 to 9; the entities found are listed, each with Delete.
// Enter sends them as [{"class": "PER", "span": [start, end]}, ...] (character offsets, end
// excluded, in code points as the service counts them).
import { useRef, useState } from "react";

import { ItemView } from "../ItemView";
import { LoadedText, selectedSpan, textOf } from "../SpanTool";
import { ItemFrame } from "./ItemFrame";
import { CLASS_KEYS, Kbd, usePageKeys } from "./keys";
import { NoMedia } from "./NoMedia";
import type { WidgetProps } from "./types";

interface Entity {
  class: string;
  span: [number, number];
}

export function EntitiesWidget({ item, name, onSubmit }: WidgetProps) {
  const text = textOf(item.data);
  if (text === null) {
    return (
      <>
        <ItemFrame externalId={item.external_id}>
          <ItemView data={item.data} name={name} />
        </ItemFrame>
        <NoMedia what="text to select in" />
      </>
    );
  }
  return (
    <LoadedText text={text}>
      {(loaded) => <Entities text={loaded} externalId={item.external_id} classes={item.label_classes} onSubmit={onSubmit} />}
    </LoadedText>
  );
}

function Entities({
  text,
  externalId,
  classes,
  onSubmit,
}: {
  text: string;
  externalId: string;
  classes: string[];
  onSubmit: (value: string) => void;
}) {
  const paragraph = useRef<HTMLParagraphElement>(null);
  const [span, setSpan] = useState<[number, number] | null>(null);
  const [entities, setEntities] = useState<Entity[]>([]);
  const chars = Array.from(text);
  const quote = (s: [number, number]) => chars.slice(s[0], s[1]).join("");

  function readSelection() {
    setSpan(selectedSpan(paragraph, text));
  }

  function mark(value: string) {
    if (span === null) return;
    const found = span;
    setEntities((all) =>
      all.some((e) => e.class === value && e.span[0] === found[0] && e.span[1] === found[1])
        ? all
        : [...all, { class: value, span: found }].sort((a, b) => a.span[0] - b.span[0] || a.span[1] - b.span[1]),
    );
    setSpan(null);
    window.getSelection()?.removeAllRanges();
  }

  function send() {
    onSubmit(JSON.stringify(entities.map((e) => ({ class: e.class, span: e.span }))));
  }

  usePageKeys((key) => {
    const value = classes[CLASS_KEYS.indexOf(key)];
    if (CLASS_KEYS.includes(key) && value !== undefined && span !== null) {
      mark(value);
      return true;
    }
    if (key === "Enter") {
      send();
      return true;
    }
    return false;
  });

  return (
    <>
      <ItemFrame externalId={externalId}>
        <div className="span-tool">
          <p className="muted">
            Select an entity's words with the mouse, then press its class (or key 1 to 9). Enter sends every entity
            listed.
          </p>
          <p ref={paragraph} className="item-text span-text" onMouseUp={readSelection} onKeyUp={readSelection}
            onTouchEnd={readSelection}>
            {text}
          </p>
          <p role="status">
            {span === null
              ? "Nothing selected"
              : `Selected characters ${span[0]} to ${span[1]}: “${quote(span)}”`}
          </p>
        </div>
      </ItemFrame>
      <div role="group" aria-label="Class of the selected words" className="classes">
        {classes.map((value, index) => (
          <button key={value} type="button" className="class-button" aria-keyshortcuts={CLASS_KEYS[index]}
            disabled={span === null} onClick={() => mark(value)}>
            <Kbd>{CLASS_KEYS[index]}</Kbd>
            {value}
          </button>
        ))}
      </div>
      <h2 className="objects-heading">Entities</h2>
      {entities.length === 0 ? (
        <p className="muted">None yet. If the text names none, submit no entities.</p>
      ) : (
        <ul className="objects-list" aria-label="Entities">
          {entities.map((e, n) => (
            <li key={`${e.class}-${e.span[0]}-${e.span[1]}`} className="objects-row">
              <strong>{e.class}</strong> “{quote(e.span)}” <span className="muted">({e.span[0]}–{e.span[1]})</span>{" "}
              <button type="button" onClick={() => setEntities((all) => all.filter((_, m) => m !== n))}>
                Delete {e.class} “{quote(e.span)}”
              </button>
            </li>
          ))}
        </ul>
      )}
      <button type="button" className="primary" aria-keyshortcuts="Enter" onClick={send}>
        {entities.length === 0 ? "Submit no entities" : "Submit the entities"}
      </button>
    </>
  );
}
