// What every labelling widget takes: the item in hand and the way to send its label.
import type { Schemas } from "../../api/client";
import type { Kind } from "../../api/kinds";

export type NextItem = Schemas["NextItem"];

export interface WidgetProps {
  item: NextItem;
  /** What the item is called on the page (a picture's alternative text): `Item <external id>`. */
  name: string;
  /** The kind as GET /v1/kinds describes it (undefined until read, or for a kind it omits). */
  kind: Kind | undefined;
  /** Sends the label: a class name, a plain text, or the JSON text of a structured label. */
  onSubmit: (value: string) => void;
}
