// Ratings: one radio group of 1 to 5 per criterion (the dataset's classes); the arrow keys move
// within a group, Tab to the next; every criterion rated, Enter (or the button) sends
// {"criterion": n, ...}.
import { useState } from "react";

import { ItemView } from "../ItemView";
import { ItemFrame } from "./ItemFrame";
import { usePageKeys } from "./keys";
import { llmItem } from "./llm";
import type { WidgetProps } from "./types";

const SCALE = [1, 2, 3, 4, 5];

export function RatingsWidget({ item, name, onSubmit }: WidgetProps) {
  const criteria = item.label_classes;
  const [ratings, setRatings] = useState<Record<string, number>>({});
  const missing = criteria.filter((criterion) => ratings[criterion] === undefined);
  const { prompt, answers } = llmItem(item.data);
  const llm = prompt !== null && Object.keys(answers).length > 0;

  function send() {
    if (missing.length > 0) return;
    onSubmit(JSON.stringify(Object.fromEntries(criteria.map((c) => [c, ratings[c]]))));
  }

  usePageKeys((key) => {
    if (key !== "Enter" || missing.length > 0) return false;
    send();
    return true;
  });

  return (
    <>
      <ItemFrame externalId={item.external_id}>
        {llm ? (
          <>
            <section aria-label="Prompt" className="llm-prompt">
              <h2>Prompt</h2>
              <p className="item-text">{prompt}</p>
            </section>
            {Object.entries(answers).map(([key, text]) => (
              <section key={key} aria-label={`Answer ${key}`} className="llm-answer">
                <h2>{Object.keys(answers).length > 1 ? `Answer ${key}` : "Answer"}</h2>
                <p className="item-text">{text}</p>
              </section>
            ))}
          </>
        ) : (
          <ItemView data={item.data} name={name} />
        )}
      </ItemFrame>
      <p className="muted">
        Rate the answer on each criterion from 1 (poor) to 5 (excellent): ← and → move within a criterion, Tab to the
        next. Enter sends the ratings once every criterion is rated.
      </p>
      <div className="ratings">
        {criteria.map((criterion) => (
          <fieldset key={criterion} className="rating">
            <legend>{criterion}</legend>
            {SCALE.map((n) => (
              <label key={n} className="rating-choice">
                <input type="radio" name={`rating-${criterion}`} value={n} checked={ratings[criterion] === n}
                  onChange={() => setRatings((now) => ({ ...now, [criterion]: n }))} />{" "}
                {n}
              </label>
            ))}
          </fieldset>
        ))}
      </div>
      <p role="status">
        {missing.length === 0 ? "Every criterion rated" : `Still to rate: ${missing.join(", ")}`}
      </p>
      <button type="button" className="primary" aria-keyshortcuts="Enter" disabled={missing.length > 0} onClick={send}>
        Submit the ratings
      </button>
    </>
  );
}
