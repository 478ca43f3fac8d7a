// Spans: a stretch of the item's text selected with the mouse (SpanTool), sent as [start, end].
import { ItemView } from "../ItemView";
import { SpanTool, textOf } from "../SpanTool";
import { ItemFrame } from "./ItemFrame";
import { NoMedia } from "./NoMedia";
import type { WidgetProps } from "./types";

export function SpansWidget({ item, name, onSubmit }: WidgetProps) {
  const text = textOf(item.data);
  return (
    <>
      <ItemFrame externalId={item.external_id}>
        {text !== null ? <SpanTool text={text} onSubmit={onSubmit} /> : <ItemView data={item.data} name={name} />}
      </ItemFrame>
      {text === null && <NoMedia what="text to select in" />}
    </>
  );
}
