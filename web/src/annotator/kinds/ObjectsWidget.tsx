// Objects: any number of boxes drawn on the item's picture, each with a class. Drag to draw a box
// (it takes the class picked for the next box, keys 1 to 9), pick a box in the list to change its
// class or delete it (Delete), Enter sends them all as
// [{"class": c, "box": [x_min, y_min, x_max, y_max]}, ...] (possibly none: nothing to mark).
import { useRef, useState } from "react";

import { type Box, BoxCanvas, hasArea, pictureOf } from "../BoxCanvas";
import { ItemFrame } from "./ItemFrame";
import { ObjectRow } from "./ObjectRow";
import { CLASS_KEYS, Kbd, usePageKeys } from "./keys";
import { WithoutMedia } from "./NoMedia";
import type { WidgetProps } from "./types";

interface Drawn {
  class: string;
  box: Box;
}

export function ObjectsWidget({ item, name, onSubmit }: WidgetProps) {
  const src = pictureOf(item.data);
  const classes = item.label_classes;
  const [objects, setObjects] = useState<Drawn[]>([]);
  const [draft, setDraft] = useState<Box | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  const [next, setNext] = useState(classes[0] ?? "");
  const heading = useRef<HTMLHeadingElement>(null);

  function send() {
    onSubmit(JSON.stringify(objects.map((o) => ({ class: o.class, box: o.box }))));
  }

  function classOf(index: number, value: string) {
    setObjects((all) => all.map((o, n) => (n === index ? { ...o, class: value } : o)));
  }

  function remove(index: number) {
    setObjects((all) => all.filter((_, n) => n !== index));
    setSelected(null);
    // the focus was on the deleted box's row (now gone): keep it in the widget, at the list
    requestAnimationFrame(() => {
      if (document.activeElement === null || document.activeElement === document.body) {
        heading.current?.focus({ preventScroll: true });
      }
    });
  }

  function pick(value: string) {
    setNext(value);
    if (selected !== null) classOf(selected, value);
  }

  usePageKeys((key) => {
    const index = CLASS_KEYS.indexOf(key);
    if (index >= 0 && classes[index] !== undefined) {
      pick(classes[index]);
      return true;
    }
    if ((key === "Delete" || key === "Backspace") && selected !== null) {
      remove(selected);
      return true;
    }
    if (key === "Escape" && selected !== null) {
      setSelected(null);
      return true;
    }
    if (key === "Enter" && objects.length > 0) {
      send();
      return true;
    }
    return false;
  });

  if (src === null) {
    return <WithoutMedia item={item} name={name} what="picture to draw on" />;
  }

  const shown = objects.map((o, n) => ({ box: o.box, caption: `${n + 1} ${o.class}`, selected: n === selected }));
  if (draft !== null) shown.push({ box: draft, caption: next, selected: false });
  return (
    <>
      <ItemFrame externalId={item.external_id}>
        <p className="muted">
          Drag on the picture to draw a box around each object; it takes the class picked below (keys 1 to 9).
          Pick a box in the list to change its class or delete it (Delete). Enter sends them all.
        </p>
        <BoxCanvas
          src={src}
          name={name}
          boxes={shown}
          onDraw={(box, done) => {
            if (!done) return setDraft(box);
            setDraft(null);
            if (!hasArea(box)) return;
            setObjects((all) => [...all, { class: next, box }]);
            setSelected(null);
          }}
        />
      </ItemFrame>
      <fieldset className="classes objects-classes">
        <legend>Class of the next box{selected !== null ? ` and of box ${selected + 1}` : ""}</legend>
        {classes.map((value, index) => (
          <label key={value} className="class-button">
            <input type="radio" name="objects-class" value={value} checked={next === value} onChange={() => pick(value)}
              aria-keyshortcuts={CLASS_KEYS[index]} />
            <Kbd>{CLASS_KEYS[index]}</Kbd>
            {value}
          </label>
        ))}
      </fieldset>
      <h2 ref={heading} tabIndex={-1} className="objects-heading">
        Boxes drawn
      </h2>
      {objects.length === 0 ? (
        <p className="muted">None yet. If there is nothing to mark, submit no boxes.</p>
      ) : (
        <ol className="objects-list" aria-label="Boxes drawn">
          {objects.map((o, n) => (
            <ObjectRow key={n} noun="box" index={n} selected={n === selected} onSelect={() => setSelected(n === selected ? null : n)}
              classes={classes} value={o.class} onClass={(value) => classOf(n, value)} onDelete={() => remove(n)}>
              <code>[{o.box.join(", ")}]</code>{" "}
            </ObjectRow>
          ))}
        </ol>
      )}
      <p role="status">
        {objects.length === 1 ? "1 box" : `${objects.length} boxes`} drawn
        {selected !== null ? `; box ${selected + 1} selected` : ""}
      </p>
      <button type="button" className="primary" aria-keyshortcuts="Enter" onClick={send}>
        {objects.length === 0 ? "Submit no boxes" : "Submit the boxes"}
      </button>
    </>
  );
}
