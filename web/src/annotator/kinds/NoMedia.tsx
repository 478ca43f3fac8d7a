// What a widget says when the item lacks what it works on (a picture, a text).
export function NoMedia({ what }: { what: string }) {
  return (
    <p className="notice">
      This item has no {what}; skip it as "Does not load" so that its buyer sees it.
    </p>
  );
}
