// Classes: one button per class, keys 1 to 9 for the first nine; a press sends the class.
import { ItemView } from "../ItemView";
import { ItemFrame } from "./ItemFrame";
import { CLASS_KEYS, Kbd, usePageKeys } from "./keys";
import type { WidgetProps } from "./types";

export function ClassesWidget({ item, name, onSubmit }: WidgetProps) {
  const classes = item.label_classes;
  usePageKeys((key) => {
    const value = classes[CLASS_KEYS.indexOf(key)];
    if (!CLASS_KEYS.includes(key) || value === undefined) return false;
    onSubmit(value);
    return true;
  });
  return (
    <>
      <ItemFrame externalId={item.external_id}>
        <ItemView data={item.data} name={name} />
      </ItemFrame>
      <div role="group" aria-label="Classes" className="classes">
        {classes.map((value, index) => {
          const key = CLASS_KEYS[index];
          return (
            <button key={value} type="button" className="class-button" aria-keyshortcuts={key} onClick={() => onSubmit(value)}>
              <Kbd>{key}</Kbd>
              {value}
            </button>
          );
        })}
      </div>
    </>
  );
}
