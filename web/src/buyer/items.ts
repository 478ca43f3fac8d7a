// Items read from a buyer's file: a JSON array, JSONL (one object a line) or CSV with `id` and
// `data` columns (and `gold` where the buyer knows the answer), sent to the API as JSONL.

export interface ItemRow {
  id: string;
  data: unknown;
  gold?: string;
}

export class ItemFileError extends Error {}

/** RFC 4180 rows: quoted fields may hold commas, quotes ("") and line breaks. */
function csvRows(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  if (quoted) throw new ItemFileError("The CSV file ends inside a quoted field: close its last quote.");
  if (field !== "" || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.some((cell) => cell.trim() !== ""));
}

/** A CSV cell of `data`: JSON where it is JSON (an object, a list, a number), else the text. */
function cellData(cell: string): unknown {
  const trimmed = cell.trim();
  if (/^[[{]/.test(trimmed)) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return cell;
    }
  }
  return cell;
}

function fromCsv(text: string): ItemRow[] {
  const [header, ...rows] = csvRows(text);
  if (!header) throw new ItemFileError("The CSV file is empty.");
  const names = header.map((name) => name.trim().toLowerCase());
  const idAt = names.indexOf("id");
  const dataAt = names.indexOf("data");
  const goldAt = names.indexOf("gold");
  if (idAt < 0 || dataAt < 0) {
    throw new ItemFileError(`The CSV file's first line must name an "id" and a "data" column; it names ${names.join(", ")}.`);
  }
  return rows.map((row) => {
    const item: ItemRow = { id: row[idAt] ?? "", data: cellData(row[dataAt] ?? "") };
    const gold = goldAt >= 0 ? (row[goldAt] ?? "").trim() : "";
    if (gold !== "") item.gold = gold;
    return item;
  });
}

function fromJsonl(text: string): unknown[] {
  return text
    .split(/\r?\n/)
    .map((line, index) => [line.trim(), index + 1] as const)
    .filter(([line]) => line !== "")
    .map(([line, number]) => {
      try {
        return JSON.parse(line) as unknown;
      } catch {
        throw new ItemFileError(`Line ${number} of the file is not JSON: each line must be one {"id", "data"} object.`);
      }
    });
}

/** The items of a file, by its name's ending (and, for .json, whether it holds an array). */
export function parseItems(name: string, text: string): ItemRow[] {
  const lower = name.toLowerCase();
  if (lower.endsWith(".csv")) return fromCsv(text);
  let rows: unknown[];
  if (lower.endsWith(".json") && text.trimStart().startsWith("[")) {
    try {
      rows = JSON.parse(text) as unknown[];
    } catch (failure) {
      throw new ItemFileError(`The file is not a JSON array (${failure instanceof Error ? failure.message : String(failure)}).`);
    }
  } else if (lower.endsWith(".json") || lower.endsWith(".jsonl") || lower.endsWith(".ndjson")) {
    rows = fromJsonl(text);
  } else {
    throw new ItemFileError(`"${name}" is not a .json, .jsonl or .csv file: export your items as one of these.`);
  }
  if (rows.length === 0) throw new ItemFileError("The file holds no items.");
  return rows as ItemRow[];
}

/** The items as the JSONL body the API takes (application/x-ndjson). */
export function toJsonl(items: ItemRow[]): string {
  return items.map((item) => JSON.stringify(item)).join("\n") + "\n";
}
