// Ranking: every answer in order, best first. Move up / Move down buttons on each, or the keys on
// a focused answer: arrows to go from one to the next, Alt+arrow (or u / d) to move it; Enter
// sends the order as ["B", "A", "C"].
import { type KeyboardEvent, useRef, useState } from "react";

import { ItemView } from "../ItemView";
import { ItemFrame } from "./ItemFrame";
import { usePageKeys } from "./keys";
import { llmItem } from "./llm";
import type { WidgetProps } from "./types";

export function RankingWidget({ item, name, onSubmit }: WidgetProps) {
  const { prompt, answers } = llmItem(item.data);
  const [order, setOrder] = useState<string[]>(() => [...item.label_classes]);
  const rows = useRef<(HTMLLIElement | null)[]>([]);

  function focusRow(index: number) {
    // after React has moved the row
    requestAnimationFrame(() => rows.current[index]?.focus());
  }

  function move(index: number, by: -1 | 1, focus: boolean) {
    const to = index + by;
    if (to < 0 || to >= order.length) return;
    setOrder((now) => {
      const next = [...now];
      const [taken] = next.splice(index, 1);
      if (taken !== undefined) next.splice(to, 0, taken);
      return next;
    });
    if (focus) focusRow(to);
  }

  function send() {
    onSubmit(JSON.stringify(order));
  }

  usePageKeys((key) => {
    if (key !== "Enter") return false;
    send();
    return true;
  });

  function onRowKey(event: KeyboardEvent<HTMLLIElement>, index: number) {
    if (event.target !== event.currentTarget) return; // a button inside the row keeps its keys
    const up = event.key === "ArrowUp";
    const down = event.key === "ArrowDown";
    if ((up || down) && (event.altKey || event.shiftKey)) move(index, up ? -1 : 1, true);
    else if (event.key === "u" || event.key === "d") move(index, event.key === "u" ? -1 : 1, true);
    else if (up || down) rows.current[index + (up ? -1 : 1)]?.focus();
    else return;
    event.preventDefault();
  }

  return (
    <>
      {prompt !== null || Object.keys(answers).length === 0 ? (
        <ItemFrame externalId={item.external_id}>
          {prompt !== null ? (
            <section aria-label="Prompt" className="llm-prompt">
              <h2>Prompt</h2>
              <p className="item-text">{prompt}</p>
            </section>
          ) : (
            <ItemView data={item.data} name={name} />
          )}
        </ItemFrame>
      ) : (
        <p className="muted item-id">Item {item.external_id}</p>
      )}
      <h2 id="ranking-heading">The answers, best first</h2>
      <p className="muted">
        Move each answer with its buttons, or focus it and press Alt+↑ / Alt+↓ (or u / d); ↑ and ↓ go from one answer
        to the next. Enter sends the order.
      </p>
      <ol className="ranking" aria-labelledby="ranking-heading">
        {order.map((answer, index) => (
          <li
            key={answer}
            ref={(element) => {
              rows.current[index] = element;
            }}
            tabIndex={0}
            className="ranking-row"
            aria-label={`${index + 1}: answer ${answer}`}
            onKeyDown={(event) => onRowKey(event, index)}
          >
            <div className="ranking-answer">
              <strong>
                {index + 1}. Answer {answer}
              </strong>
              {answers[answer] !== undefined && <p className="item-text">{answers[answer]}</p>}
            </div>
            <div className="ranking-moves">
              <button type="button" disabled={index === 0} onClick={() => move(index, -1, false)}>
                Move {answer} up
              </button>{" "}
              <button type="button" disabled={index === order.length - 1} onClick={() => move(index, 1, false)}>
                Move {answer} down
              </button>
            </div>
          </li>
        ))}
      </ol>
      <p role="status">Order: {order.join(", ")}</p>
      <button type="button" className="primary" aria-keyshortcuts="Enter" onClick={send}>
        Submit the ranking
      </button>
    </>
  );
}
