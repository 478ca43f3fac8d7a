// Multilabel: every class that applies, as checkboxes; keys 1 to 9 toggle the first nine, Enter
// sends the classes ticked as ["a", "c"] (possibly none).
import { useState } from "react";

import { ItemView } from "../ItemView";
import { ItemFrame } from "./ItemFrame";
import { CLASS_KEYS, Kbd, usePageKeys } from "./keys";
import type { WidgetProps } from "./types";

export function MultilabelWidget({ item, name, onSubmit }: WidgetProps) {
  const classes = item.label_classes;
  const [ticked, setTicked] = useState<ReadonlySet<string>>(new Set());

  function toggle(value: string) {
    setTicked((now) => {
      const next = new Set(now);
      if (next.has(value)) next.delete(value);
      else next.add(value);
      return next;
    });
  }

  function send() {
    onSubmit(JSON.stringify(classes.filter((value) => ticked.has(value))));
  }

  usePageKeys((key) => {
    const value = classes[CLASS_KEYS.indexOf(key)];
    if (CLASS_KEYS.includes(key) && value !== undefined) {
      toggle(value);
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
      <ItemFrame externalId={item.external_id}>
        <ItemView data={item.data} name={name} />
      </ItemFrame>
      <p className="muted">
        Tick every class that applies (keys 1 to 9 tick and untick them); Enter sends the classes ticked, or none if
        none applies.
      </p>
      <fieldset className="classes">
        <legend>Every class that applies</legend>
        {classes.map((value, index) => (
          <label key={value} className="class-button">
            <input type="checkbox" checked={ticked.has(value)} onChange={() => toggle(value)}
              aria-keyshortcuts={CLASS_KEYS[index]} />
            <Kbd>{CLASS_KEYS[index]}</Kbd>
            {value}
          </label>
        ))}
      </fieldset>
      <button type="button" className="primary" aria-keyshortcuts="Enter" onClick={send}>
        {ticked.size === 0 ? "Submit: none applies" : "Submit the classes"}
      </button>
    </>
  );
}
