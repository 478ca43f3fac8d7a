// The frame an item is shown in, with its id above it.
import type { ReactNode } from "react";

export function ItemFrame({ externalId, children }: { externalId: string; children: ReactNode }) {
  return (
    <div className="item-frame">
      <p className="muted item-id">Item {externalId}</p>
      {children}
    </div>
  );
}
