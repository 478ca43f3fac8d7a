// Preference: the prompt above, answers A and B side by side; keys 1, 2, 3 pick "A", "B" or "tie"
// (the tie only where the dataset's classes offer it), as do the choices themselves, and Enter (or
// the button) sends the choice picked. A key only picks: comparing two long answers, a person
// may change their mind, and a stray key must not send a choice nobody made.
import { useState } from "react";

import { ItemView } from "../ItemView";
import { ItemFrame } from "./ItemFrame";
import { CLASS_KEYS, Kbd, usePageKeys } from "./keys";
import { llmItem } from "./llm";
import type { WidgetProps } from "./types";

function choiceName(value: string): string {
  return value === "tie" ? "Tie: neither is better" : `${value} is better`;
}

export function PreferenceWidget({ item, name, onSubmit }: WidgetProps) {
  const choices = item.label_classes.length > 0 ? item.label_classes : ["A", "B", "tie"];
  const { prompt, answers } = llmItem(item.data);
  const shown = Object.keys(answers).length > 0;
  const [picked, setPicked] = useState<string | null>(null);

  function send() {
    if (picked !== null) onSubmit(picked);
  }

  usePageKeys((key) => {
    const value = choices[CLASS_KEYS.indexOf(key)];
    if (CLASS_KEYS.includes(key) && value !== undefined) {
      setPicked(value);
      return true;
    }
    if (key === "Enter" && picked !== null) {
      send();
      return true;
    }
    return false;
  });

  return (
    <>
      <ItemFrame externalId={item.external_id}>
        {shown ? (
          <>
            {prompt !== null && (
              <section aria-label="Prompt" className="llm-prompt">
                <h2>Prompt</h2>
                <p className="item-text">{prompt}</p>
              </section>
            )}
            <div className="llm-answers">
              {Object.entries(answers).map(([key, text]) => (
                <section key={key} aria-label={`Answer ${key}`} className="llm-answer">
                  <h2>Answer {key}</h2>
                  <p className="item-text">{text}</p>
                </section>
              ))}
            </div>
          </>
        ) : (
          <ItemView data={item.data} name={name} />
        )}
      </ItemFrame>
      <fieldset className="classes">
        <legend>Which answer is better</legend>
        {choices.map((value, index) => (
          <label key={value} className="class-button">
            <input type="radio" name="preference" value={value} checked={picked === value}
              onChange={() => setPicked(value)} aria-keyshortcuts={CLASS_KEYS[index]} />
            <Kbd>{CLASS_KEYS[index]}</Kbd>
            {choiceName(value)}
          </label>
        ))}
      </fieldset>
      <button type="button" className="primary" aria-keyshortcuts="Enter" disabled={picked === null} onClick={send}>
        {picked === null ? "Pick the better answer" : `Submit: ${choiceName(picked)}`}
      </button>
    </>
  );
}
