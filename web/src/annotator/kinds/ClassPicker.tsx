// The class of the next mark and of the selected one, as radio buttons with keys 1 to 9 (the
// segments, tracks and cuboids widgets share it, as the objects widget has its own).
import { useEffect, useRef } from "react";

import { CLASS_KEYS, Kbd, typing } from "./keys";

export function ClassPicker({
  classes,
  value,
  onPick,
  legend,
  name,
}: {
  classes: readonly string[];
  value: string;
  onPick: (value: string) => void;
  legend: string;
  name: string;
}) {
  return (
    <fieldset className="classes objects-classes">
      <legend>{legend}</legend>
      {classes.map((option, index) => (
        <label key={option} className="class-button">
          <input
            type="radio"
            name={name}
            value={option}
            checked={value === option}
            onChange={() => onPick(option)}
            aria-keyshortcuts={CLASS_KEYS[index]}
          />
          <Kbd>{CLASS_KEYS[index]}</Kbd>
          {option}
        </label>
      ))}
    </fieldset>
  );
}

/** Like usePageKeys, with the whole event (Shift changes what an arrow does): `onKey` answers
 * true when it used the key. Keys typed into a field, and Enter or Space on a button, a link or
 * a slider, stay theirs. */
export function usePageKeyEvents(onKey: (event: KeyboardEvent) => boolean) {
  const latest = useRef(onKey);
  useEffect(() => {
    latest.current = onKey;
  });
  useEffect(() => {
    function listener(event: KeyboardEvent) {
      const slider = event.target instanceof HTMLInputElement && event.target.type === "range";
      if (event.altKey || event.ctrlKey || event.metaKey || (!slider && typing(event.target))) return;
      const control =
        event.target instanceof HTMLElement &&
        event.target.closest("button, a, summary, [role=button], input[type=range], audio, video") !== null;
      if (control && (event.key === "Enter" || event.key === " ")) return;
      if (control && event.target instanceof HTMLInputElement && event.key.startsWith("Arrow")) return;
      if (latest.current(event)) event.preventDefault();
    }
    window.addEventListener("keydown", listener);
    return () => window.removeEventListener("keydown", listener);
  }, []);
}

/** Which of the first nine classes a key picks, if any. */
export function classForKey(classes: readonly string[], key: string): string | undefined {
  const index = CLASS_KEYS.indexOf(key);
  return index >= 0 ? classes[index] : undefined;
}
