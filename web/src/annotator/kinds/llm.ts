// An LLM item as the preference and ranking widgets read it:
// {"prompt": "...", "answers": {"A": "...", "B": "..."}} (answers may also be a list).
export interface LlmItem {
  prompt: string | null;
  answers: Record<string, string>;
}

function asText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

export function llmItem(data: unknown): LlmItem {
  if (data === null || typeof data !== "object" || Array.isArray(data)) return { prompt: null, answers: {} };
  const fields = data as Record<string, unknown>;
  const prompt = fields["prompt"] ?? fields["question"] ?? fields["instruction"];
  const raw = fields["answers"] ?? fields["responses"] ?? fields["completions"];
  const answers: Record<string, string> = {};
  if (Array.isArray(raw)) {
    raw.forEach((value, index) => {
      answers[String.fromCharCode(65 + index)] = asText(value);
    });
  } else if (raw !== null && typeof raw === "object") {
    for (const [key, value] of Object.entries(raw as Record<string, unknown>)) answers[key] = asText(value);
  } else {
    for (const key of ["A", "B", "C", "D"]) if (key in fields) answers[key] = asText(fields[key]);
  }
  return { prompt: prompt === undefined ? null : asText(prompt), answers };
}
