// Where the focus goes when the control it was on leaves the page (a deleted row's button): to
// `target` in the same widget, rather than to the page's top.
import type { RefObject } from "react";

export function keepFocusAt(target: RefObject<HTMLElement | null>) {
  requestAnimationFrame(() => {
    if (document.activeElement === null || document.activeElement === document.body) {
      target.current?.focus({ preventScroll: true });
    }
  });
}
