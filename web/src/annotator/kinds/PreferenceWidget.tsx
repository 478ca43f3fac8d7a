// Preference: the prompt above, answers A and B side by side; keys 1, 2, 3 send "A", "B" or
// "tie" (the tie only where the dataset's classes offer it).
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
  usePageKeys((key) => {
    const value = choices[CLASS_KEYS.indexOf(key)];
    if (!CLASS_KEYS.includes(key) || value === undefined) return false;
    onSubmit(value);
    return true;
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
      <div role="group" aria-label="Which answer is better" className="classes">
        {choices.map((value, index) => (
          <button key={value} type="button" className="class-button" aria-keyshortcuts={CLASS_KEYS[index]}
            onClick={() => onSubmit(value)}>
            <Kbd>{CLASS_KEYS[index]}</Kbd>
            {choiceName(value)}
          </button>
        ))}
      </div>
    </>
  );
}
