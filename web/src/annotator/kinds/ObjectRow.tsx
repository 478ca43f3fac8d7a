// One object of a classed set (a box, a polygon, a segment, a track, a cuboid) in its widget's
// list: a button that selects it, its class, what the widget shows of it (`children`), and a
// button that deletes it, each named with the object's noun and number ("Class of box 2").
import type { ReactNode } from "react";

export function ObjectRow({
  noun,
  index,
  selected,
  onSelect,
  classes,
  value,
  onClass,
  onDelete,
  children,
}: {
  /** The object's noun in lower case, e.g. "box". */
  noun: string;
  index: number;
  selected: boolean;
  /** Selects the object, or unselects it when it is the selected one. */
  onSelect: () => void;
  classes: readonly string[];
  value: string;
  onClass: (value: string) => void;
  onDelete: () => void;
  children?: ReactNode;
}) {
  const title = `${noun.charAt(0).toUpperCase()}${noun.slice(1)} ${index + 1}`;
  return (
    <li className={selected ? "objects-row objects-selected" : "objects-row"}>
      <button type="button" aria-pressed={selected} onClick={onSelect}>
        {title}
      </button>{" "}
      <label>
        Class of {noun} {index + 1}{" "}
        <select value={value} onChange={(e) => onClass(e.target.value)}>
          {classes.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </label>{" "}
      {children}
      <button type="button" onClick={onDelete}>
        Delete {noun} {index + 1}
      </button>
    </li>
  );
}
