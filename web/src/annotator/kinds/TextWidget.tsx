// Texts, transcripts and written answers: the item, then a text area; the label is the text
// itself (not JSON). Ctrl+Enter (or the button) sends it. A transcript's item plays its audio.
import { useId, useState } from "react";

import { ItemView } from "../ItemView";
import { ItemFrame } from "./ItemFrame";
import { llmItem } from "./llm";
import type { WidgetProps } from "./types";

const AUDIO_URL = /^(https?:\/\/|\/)\S+\.(mp3|wav|ogg|oga|opus|flac|m4a|aac|webm)(\?\S*)?$/i;
const AUDIO_KEYS = ["audio", "audio_url", "url", "src", "clip", "sound"];

/** The item's audio clip: its data as an audio URL, an audio field, or the first audio URL. */
export function audioOf(data: unknown): string | null {
  if (typeof data === "string") return AUDIO_URL.test(data) || data.startsWith("data:audio/") ? data : null;
  if (data === null || typeof data !== "object" || Array.isArray(data)) return null;
  const fields = data as Record<string, unknown>;
  for (const key of AUDIO_KEYS) {
    const value = fields[key];
    if (typeof value === "string" && (key.startsWith("audio") || AUDIO_URL.test(value)) && /^(https?:\/\/|\/|data:audio\/)\S+$/.test(value)) {
      return value;
    }
  }
  const found = Object.values(fields).find((value) => typeof value === "string" && AUDIO_URL.test(value));
  return typeof found === "string" ? found : null;
}

const ANSWER = { label: "Your answer", hint: "Type the answer as the instructions ask.", button: "Submit the answer" };

const WORDING: Record<string, { label: string; hint: string; button: string }> = {
  texts: ANSWER,
  transcripts: {
    label: "Transcript",
    hint: "Type every word you hear, in order.",
    button: "Submit the transcript",
  },
  written: {
    label: "Your written response",
    hint: "Write the response you would want to read; a reviewer judges it.",
    button: "Submit the response",
  },
};

export function TextWidget({ item, name, onSubmit, kind }: WidgetProps) {
  const id = useId();
  const [text, setText] = useState("");
  const words = WORDING[item.label_type] ?? ANSWER;
  const audio = item.label_type === "transcripts" ? audioOf(item.data) : null;
  const { prompt } = llmItem(item.data);
  const tooLong = kind !== undefined && Array.from(text).length > kind.max_chars;
  const ready = text.trim().length > 0 && !tooLong;

  function send() {
    if (ready) onSubmit(text);
  }

  return (
    <>
      <ItemFrame externalId={item.external_id}>
        {audio !== null && (
          <audio controls src={audio} preload="metadata" aria-label={`${name}: audio`} className="item-audio">
            <a href={audio}>The item's audio</a>
          </audio>
        )}
        {item.label_type === "written" && prompt !== null ? (
          <section aria-label="Prompt" className="llm-prompt">
            <h2>Prompt</h2>
            <p className="item-text">{prompt}</p>
          </section>
        ) : (
          <ItemView data={item.data} name={name} />
        )}
      </ItemFrame>
      <div className="buyer-field text-answer">
        <label htmlFor={`${id}-text`}>{words.label}</label>
        <textarea
          id={`${id}-text`}
          rows={item.label_type === "texts" ? 3 : 8}
          value={text}
          onChange={(event) => setText(event.target.value)}
          aria-describedby={`${id}-hint`}
          aria-keyshortcuts="Control+Enter"
          aria-invalid={tooLong}
          onKeyDown={(event) => {
            if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
              event.preventDefault();
              send();
            }
          }}
        />
        <p id={`${id}-hint`} className="muted">
          {words.hint} Ctrl+Enter sends it.
          {tooLong && ` At most ${kind?.max_chars} characters.`}
        </p>
      </div>
      <button type="button" className="primary" disabled={!ready} onClick={send}>
        {words.button}
      </button>
    </>
  );
}
