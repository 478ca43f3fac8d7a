// Boxes: one box drawn on the item's picture (BoxTool), sent as [x_min, y_min, x_max, y_max].
import { ItemView } from "../ItemView";
import { BoxTool, pictureOf } from "../BoxTool";
import { ItemFrame } from "./ItemFrame";
import { NoMedia } from "./NoMedia";
import type { WidgetProps } from "./types";

export function BoxesWidget({ item, name, onSubmit }: WidgetProps) {
  const src = pictureOf(item.data);
  return (
    <>
      <ItemFrame externalId={item.external_id}>
        {src !== null ? <BoxTool src={src} name={name} onSubmit={onSubmit} /> : <ItemView data={item.data} name={name} />}
      </ItemFrame>
      {src === null && <NoMedia what="picture to draw on" />}
    </>
  );
}
