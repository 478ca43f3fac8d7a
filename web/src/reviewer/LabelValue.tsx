// A label's value as a reviewer judges it: a class as its name, a box as its corners, a span as
// its character offsets, in words beside the item (ItemShown draws the box over the picture and
// highlights the span in the text).
/** The numbers of a box `[x0, y0, x1, y1]` or a span `[start, end]`, or null when not that. */
export function numbers(value: string, count: number): number[] | null {
  try {
    const parsed: unknown = JSON.parse(value);
    if (Array.isArray(parsed) && parsed.length === count && parsed.every((n) => typeof n === "number")) {
      return parsed as number[];
    }
  } catch {
    // not JSON: shown as it is
  }
  return null;
}

/** The value in words, for its label type. */
export function describeValue(value: string, labelType: string | undefined): string {
  if (labelType === "boxes") {
    const box = numbers(value, 4);
    if (box) return `Box from (${box[0]}, ${box[1]}) to (${box[2]}, ${box[3]}), in the picture's pixels`;
  }
  if (labelType === "spans") {
    const span = numbers(value, 2);
    if (span) return `Characters ${span[0]} to ${span[1]} of the text`;
  }
  return value;
}

export function LabelValue({ value, labelType }: { value: string; labelType: string | undefined }) {
  const words = describeValue(value, labelType);
  return (
    <div className="reviewer-value">
      {labelType === "classes" || words === value ? (
        <p className="item-text reviewer-class">{value}</p>
      ) : (
        <>
          <p className="item-text">{words}</p>
          <p className="muted">
            As sent: <code>{value}</code>
          </p>
        </>
      )}
    </div>
  );
}
