// JSON without rounding. The API sends amounts as JSON integers of base units, and LABEL has 18
// decimals: anything above ~0.009 LABEL exceeds Number.MAX_SAFE_INTEGER, which JSON.parse rounds
// silently. Here an integer literal outside the safe range becomes a `bigint` holding exactly the
// digits sent, every other value is what JSON.parse makes of it; and a `bigint` is written as its
// exact number literal. Pure ECMAScript (no DOM): the node tests in web/test run it as is.

/** A JSON integer literal: what may become a bigint (1e30 and 1.0 stay numbers, as written). */
const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;

/** The largest safe integer has 16 digits: a body without a run of 16 digits has nothing to keep
 * exact, and JSON.parse alone reads it. */
const LONG_DIGITS = /[0-9]{16}/;

interface ReviverContext {
  source?: string;
}

/** Whether this engine passes a reviver the source text of each primitive (the "JSON.parse source
 * text access" proposal: Chromium 114, Firefox 135, Safari 18.4, Node 21). */
export const HAS_SOURCE_ACCESS: boolean = (() => {
  let seen = false;
  JSON.parse("1", (_key: string, value: unknown, context?: ReviverContext) => {
    if (context?.source === "1") seen = true;
    return value;
  });
  return seen;
})();

/** A number literal's value: a bigint where it is an integer a number cannot hold exactly. */
function numberFrom(literal: string): number | bigint {
  const value = Number(literal);
  return !Number.isSafeInteger(value) && INTEGER.test(literal) ? BigInt(literal) : value;
}

function exactReviver(_key: string, value: unknown, context?: ReviverContext): unknown {
  if (typeof value !== "number" || Number.isSafeInteger(value) || context?.source === undefined) return value;
  return INTEGER.test(context.source) ? BigInt(context.source) : value;
}

/** Reads JSON the engine has already accepted (JSON.parse checked it): a walk over its tokens in
 * which strings are read whole (their digits are text, never numbers) and numbers by numberFrom. */
function parseChecked(text: string): unknown {
  let at = 0;
  const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

  function space(): void {
    while (at < text.length) {
      const c = text.charCodeAt(at);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      at += 1;
    }
  }

  function string(): string {
    const start = at;
    at += 1; // the opening quote
    while (text[at] !== '"') at += text[at] === "\\" ? 2 : 1;
    at += 1;
    return JSON.parse(text.slice(start, at)) as string; // escapes exactly as JSON.parse reads them
  }

  function value(): unknown {
    space();
    const c = text[at];
    if (c === "{") {
      at += 1;
      const object: Record<string, unknown> = {};
      space();
      if (text[at] === "}") {
        at += 1;
        return object;
      }
      for (;;) {
        space();
        const key = string();
        space();
        at += 1; // the colon
        // defineProperty, as JSON.parse does: a "__proto__" key is data, not the prototype
        Object.defineProperty(object, key, { value: value(), enumerable: true, writable: true, configurable: true });
        space();
        if (text[at++] === "}") return object; // else a comma
      }
    }
    if (c === "[") {
      at += 1;
      const array: unknown[] = [];
      space();
      if (text[at] === "]") {
        at += 1;
        return array;
      }
      for (;;) {
        array.push(value());
        space();
        if (text[at++] === "]") return array;
      }
    }
    if (c === '"') return string();
    if (c === "t") {
      at += 4;
      return true;
    }
    if (c === "f") {
      at += 5;
      return false;
    }
    if (c === "n") {
      at += 4;
      return null;
    }
    NUMBER.lastIndex = at;
    const literal = NUMBER.exec(text)?.[0] ?? "";
    at += literal.length;
    return numberFrom(literal);
  }

  return value();
}

export interface ParseOptions {
  /** Use the reviver's source text (the default where the engine has it); false takes the
   * tokenizer, as an engine without it does. */
  sourceAccess?: boolean;
}

/** JSON.parse, except that an integer outside Number's safe range is a bigint of exactly its
 * digits. Throws JSON.parse's SyntaxError on text that is not JSON. */
export function parseJson(text: string, options: ParseOptions = {}): unknown {
  const sourceAccess = options.sourceAccess ?? HAS_SOURCE_ACCESS;
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
  if (sourceAccess) return JSON.parse(text, exactReviver);
  JSON.parse(text); // the engine's own check and error for text that is not JSON
  return parseChecked(text);
}

/** JSON.stringify(value, null, indent), except that a bigint is written as its exact number
 * literal (JSON.stringify refuses bigints). */
export function stringifyJson(value: unknown, indent = 0): string {
  const step = " ".repeat(Math.min(10, Math.max(0, indent)));

  function write(raw: unknown, key: string, depth: string): string | undefined {
    let item = raw;
    if (item !== null && typeof item === "object" && typeof (item as { toJSON?: unknown }).toJSON === "function") {
      item = (item as { toJSON: (key: string) => unknown }).toJSON(key);
    }
    if (typeof item === "bigint") return item.toString();
    if (item === null || typeof item !== "object") return JSON.stringify(item); // undefined for functions
    if (item instanceof Number || item instanceof String || item instanceof Boolean) return JSON.stringify(item);
    const inner = depth + step;
    const open = step ? `\n${inner}` : "";
    const close = step ? `\n${depth}` : "";
    const comma = step ? `,\n${inner}` : ",";
    if (Array.isArray(item)) {
      if (item.length === 0) return "[]";
      const parts = item.map((element, index) => write(element, String(index), inner) ?? "null");
      return `[${open}${parts.join(comma)}${close}]`;
    }
    const parts: string[] = [];
    for (const [name, member] of Object.entries(item)) {
      const written = write(member, name, inner);
      if (written !== undefined) parts.push(`${JSON.stringify(name)}:${step ? " " : ""}${written}`);
    }
    return parts.length === 0 ? "{}" : `{${open}${parts.join(comma)}${close}}`;
  }

  const written = write(value, "", "");
  if (written === undefined) throw new TypeError(`${typeof value} has no JSON form`);
  return written;
}
