// Texts, transcripts and written answers: the item, then a text area; the label is the text
// itself (not JSON). The text area has the focus when the item shows, so typing starts at once;
// Ctrl+Enter (or the button) sends it. A transcript's item plays its audio, and Escape in the
// text area plays or pauses it without leaving the words.
import { useEffect, useId, useRef, useState } from "react";

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

/** The item's data with its clip taken out (the player shows it): the other fields, or null
 * when nothing else is left to read. */
function besideClip(data: unknown, clip: string): unknown {
  if (data === clip) return null;
  if (data === null || typeof data !== "object" || Array.isArray(data)) return data;
  const rest = Object.entries(data as Record<string, unknown>).filter(([, value]) => value !== clip);
  return rest.length === 0 ? null : Object.fromEntries(rest);
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
  const field = useRef<HTMLTextAreaElement>(null);
  const player = useRef<HTMLAudioElement>(null);
  const [unplayed, setUnplayed] = useState<string | null>(null);
  const words = WORDING[item.label_type] ?? ANSWER;
  const audio = item.label_type === "transcripts" ? audioOf(item.data) : null;
  const { prompt } = llmItem(item.data);
  const rest = audio === null ? item.data : besideClip(item.data, audio);
  const tooLong = kind !== undefined && Array.from(text).length > kind.max_chars;
  const ready = text.trim().length > 0 && !tooLong;

  function send() {
    if (ready) onSubmit(text);
  }

  // The item's one control: focused as it shows (not scrolled to, so the item stays in view).
  useEffect(() => {
    field.current?.focus({ preventScroll: true });
  }, []);

  function playOrPause() {
    const element = player.current;
    if (element === null) return;
    setUnplayed(null);
    if (element.paused) {
      element.play().catch((error: unknown) =>
        setUnplayed(
          `The clip did not play (${error instanceof Error ? error.message : String(error)}); try its play button, or skip the item as "Does not load".`,
        ),
      );
    } else {
      element.pause();
    }
  }

  return (
    <>
      <ItemFrame externalId={item.external_id}>
        {audio !== null && (
          <audio ref={player} controls src={audio} preload="metadata" aria-label={`${name}: audio`} className="item-audio">
            <a href={audio}>The item's audio</a>
          </audio>
        )}
        {item.label_type === "written" && prompt !== null ? (
          <section aria-label="Prompt" className="llm-prompt">
            <h2>Prompt</h2>
            <p className="item-text">{prompt}</p>
          </section>
        ) : (
          rest !== null && <ItemView data={rest} name={name} />
        )}
      </ItemFrame>
      <div className="buyer-field text-answer">
        <label htmlFor={`${id}-text`}>{words.label}</label>
        <textarea
          ref={field}
          id={`${id}-text`}
          rows={item.label_type === "texts" ? 3 : 8}
          value={text}
          onChange={(event) => setText(event.target.value)}
          aria-describedby={`${id}-hint`}
          aria-keyshortcuts={audio !== null ? "Control+Enter Escape" : "Control+Enter"}
          aria-invalid={tooLong}
          onKeyDown={(event) => {
            if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
              event.preventDefault();
              send();
            } else if (event.key === "Escape" && audio !== null) {
              event.preventDefault();
              playOrPause();
            }
          }}
        />
        <p id={`${id}-hint`} className="muted">
          {words.hint} {audio !== null && "Escape plays or pauses the clip. "}Ctrl+Enter sends it.
          {tooLong && ` At most ${kind?.max_chars} characters.`}
        </p>
        {unplayed !== null && (
          <p className="notice notice-error" role="alert">
            {unplayed}
          </p>
        )}
      </div>
      <button type="button" className="primary" disabled={!ready} onClick={send}>
        {words.button}
      </button>
    </>
  );
}
