// The item a label was made on, shown as the annotator's workspace shows it, read-only: a box
// drawn over the picture, a span highlighted in the text, anything else as the item view.
import { type Box, BoxTool, pictureOf } from "../annotator/BoxTool";
import { ItemView } from "../annotator/ItemView";
import { SpanTool, textOf } from "../annotator/SpanTool";
import { numbers } from "./LabelValue";

export function ItemShown({
  data,
  value,
  labelType,
  name,
}: {
  /** The item's data as the annotator was served it. */
  data: unknown;
  /** The label's value, drawn over the item for boxes and spans. */
  value: string;
  labelType: string | undefined;
  /** What the item is called (the picture's alternative text). */
  name: string;
}) {
  if (labelType === "boxes") {
    const src = pictureOf(data);
    const box = numbers(value, 4);
    if (src !== null) return <BoxTool src={src} name={name} shown={box as Box | null} />;
  }
  if (labelType === "spans") {
    const text = textOf(data);
    const span = numbers(value, 2);
    if (text !== null) return <SpanTool text={text} shown={span as [number, number] | null} />;
  }
  return <ItemView data={data} name={name} />;
}
