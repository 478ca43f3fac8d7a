// What a widget says when the item lacks what it works on (a picture, a text).
import type { ReactNode } from "react";

import { ItemView } from "../ItemView";
import { ItemFrame } from "./ItemFrame";
import type { NextItem } from "./types";

export function NoMedia({ what }: { what: string }) {
  return (
    <p className="notice">
      This item has no {what}; skip it as "Does not load" so that its buyer sees it.
    </p>
  );
}

/** The whole widget when its tool cannot work: the item's data as it is, why its media failed to
 * load (`failure`), and what to do (`notice`, by default NoMedia's). */
export function WithoutMedia({
  item,
  name,
  what,
  failure,
  notice,
}: {
  item: NextItem;
  name: string;
  what: string;
  failure?: string | undefined;
  notice?: ReactNode;
}) {
  return (
    <>
      <ItemFrame externalId={item.external_id}>
        <ItemView data={item.data} name={name} />
        {failure !== undefined && <p className="notice notice-error">{failure}.</p>}
      </ItemFrame>
      {notice ?? <NoMedia what={what} />}
    </>
  );
}
