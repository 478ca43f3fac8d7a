// An item's data as a person reads it: a text as text, an image URL as the image, anything else
// as its fields (and, past that, its JSON).
import { useQuery } from "@tanstack/react-query";

const IMAGE_URL = /^(https?:\/\/|\/)[^\s]+\.(png|jpe?g|gif|webp|avif|svg|bmp)(\?[^\s]*)?$/i;
const IMAGE_KEYS = new Set(["image", "image_url", "img", "picture", "photo"]);

/** A text the item names by URL on this server (the demo's /media/texts/3.txt). */
export function ownTextUrl(value: string): boolean {
  if (!/\.txt(\?\S*)?$/i.test(value)) return false;
  try {
    return new URL(value, window.location.origin).origin === window.location.origin;
  } catch {
    return false;
  }
}

/** The text at an item's own-server text URL, exactly as served (`null`: none to load). The span
 * tool's offsets count characters of this text. */
export function useTextAt(url: string | null) {
  return useQuery({
    queryKey: ["item-text", url],
    queryFn: async () => {
      const answer = await fetch(url ?? "");
      if (!answer.ok) throw new Error(`the item's text at ${url} answered ${answer.status}`);
      return answer.text();
    },
    enabled: url !== null,
    staleTime: Infinity,
  });
}

function TextFromUrl({ url }: { url: string }) {
  const { data, error } = useTextAt(url);
  if (error) return <p className="notice notice-error">{error.message}: skip it as "Does not load".</p>;
  return <p className="item-text">{data ?? "…"}</p>;
}

function isImageUrl(value: string, key?: string): boolean {
  if (IMAGE_URL.test(value) || value.startsWith("data:image/")) return true;
  return key !== undefined && IMAGE_KEYS.has(key) && /^(https?:\/\/|\/)\S+$/.test(value);
}

function Value({ value, fieldKey, name }: { value: unknown; fieldKey?: string; name: string }) {
  if (typeof value === "string") {
    if (isImageUrl(value, fieldKey)) {
      return <img className="item-image" src={value} alt={name} referrerPolicy="no-referrer" />;
    }
    if (ownTextUrl(value)) return <TextFromUrl url={value} />;
    return <p className="item-text">{value}</p>;
  }
  if (typeof value === "number" || typeof value === "boolean" || value === null) {
    return <p className="item-text">{String(value)}</p>;
  }
  return <pre className="item-json">{JSON.stringify(value, null, 2)}</pre>;
}

export function ItemView({ data, name }: { data: unknown; name: string }) {
  if (data !== null && typeof data === "object" && !Array.isArray(data)) {
    const fields = Object.entries(data as Record<string, unknown>);
    if (fields.length > 0 && fields.length <= 8) {
      return (
        <div className="item">
          {fields.map(([key, value]) => (
            <div key={key} className="item-field">
              {fields.length > 1 && <p className="item-key">{key}</p>}
              <Value value={value} fieldKey={key} name={fields.length > 1 ? `${name}: ${key}` : name} />
            </div>
          ))}
        </div>
      );
    }
  }
  return (
    <div className="item">
      <Value value={data} name={name} />
    </div>
  );
}
