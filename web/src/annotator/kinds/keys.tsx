// Keys on the whole workspace page (1 to 9 for classes, Enter to submit), not while the person
// types in a field.
import { useEffect, useRef } from "react";

/** Keys 1 to 9 pick the first nine classes (or answers, or toggles). */
export const CLASS_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9"];

/** Whether keys pressed on `target` are typed into it (a tick box or radio button takes none). */
export function typing(target: EventTarget | null): boolean {
  if (target instanceof HTMLInputElement) return !["checkbox", "radio"].includes(target.type);
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ["TEXTAREA", "SELECT"].includes(target.tagName))
  );
}

/** Calls `onKey` for a key pressed anywhere on the page without a modifier, outside any field;
 * it answers true when it used the key. Enter on a button or link stays theirs. */
export function usePageKeys(onKey: (key: string) => boolean) {
  const latest = useRef(onKey);
  useEffect(() => {
    latest.current = onKey;
  });
  useEffect(() => {
    function listener(event: KeyboardEvent) {
      if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) return;
      if (
        event.key === "Enter" &&
        event.target instanceof HTMLElement &&
        event.target.closest("button, a, summary, [role=button]") !== null
      ) {
        return;
      }
      if (latest.current(event.key)) event.preventDefault();
    }
    window.addEventListener("keydown", listener);
    return () => window.removeEventListener("keydown", listener);
  }, []);
}

/** The key shown on a control, hidden from screen readers (aria-keyshortcuts says it). */
export function Kbd({ children }: { children: string | undefined }) {
  return children === undefined ? null : <kbd aria-hidden="true">{children}</kbd>;
}
