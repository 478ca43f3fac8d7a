// Segments: classed stretches of a recording. The item's audio (or video) plays above its
// waveform, drawn from the decoded file; a drag on the waveform marks a segment, a click moves
// the playhead there, and while it plays [ marks where a segment starts and ] where it ends.
// Keys 1 to 9 pick the class (of the next segment, and of the selected one), ←/→ nudge the
// selected segment's start (Shift: its end), Delete removes it, Enter sends them all as
// [{"class": c, "start": s, "end": e}, ...] in seconds (possibly none: nothing to mark).
import { type PointerEvent, useEffect, useId, useRef, useState } from "react";

import { ClassPicker, classForKey, usePageKeyEvents } from "./ClassPicker";
import { ItemFrame } from "./ItemFrame";
import { ObjectRow } from "./ObjectRow";
import { clamp, recordingOf, rounded, useFetchedMedia } from "./media";
import { WithoutMedia } from "./NoMedia";
import type { WidgetProps } from "./types";

interface Marked {
  class: string;
  start: number;
  end: number;
}

const WIDTH = 1000; // the waveform's columns: one peak each
const HEIGHT = 160;
const NUDGE = 0.05; // seconds an arrow moves an edge
const SHORTEST = 0.05; // a drag shorter than this is a click
/** Each class its colour, by its place in the list (the first nine). */
export const CLASS_COLOURS = ["#1d4e89", "#c2410c", "#1f7a3a", "#7c3aed", "#b42318", "#0e7490", "#a16207", "#be185d", "#4b5563"];

export function colourOf(classes: readonly string[], value: string): string {
  const index = classes.indexOf(value);
  return CLASS_COLOURS[(index < 0 ? 0 : index) % CLASS_COLOURS.length] ?? "#1d4e89";
}

/** Peaks per column: the lowest and highest sample under each of `columns` columns. */
function peaksOf(buffer: AudioBuffer, columns: number): Float32Array {
  const peaks = new Float32Array(columns * 2);
  const channels = Array.from({ length: buffer.numberOfChannels }, (_, c) => buffer.getChannelData(c));
  const per = buffer.length / columns;
  for (let column = 0; column < columns; column += 1) {
    let low = 0;
    let high = 0;
    const end = Math.min(buffer.length, Math.ceil((column + 1) * per));
    for (const data of channels) {
      for (let k = Math.floor(column * per); k < end; k += 1) {
        const value = data[k] ?? 0;
        if (value < low) low = value;
        if (value > high) high = value;
      }
    }
    peaks[2 * column] = low;
    peaks[2 * column + 1] = high;
  }
  return peaks;
}

function seconds(value: number): string {
  return `${value.toFixed(2)} s`;
}

export function SegmentsWidget({ item, name, onSubmit }: WidgetProps) {
  const id = useId();
  const classes = item.label_classes;
  const recording = recordingOf(item.data);
  const fetched = useFetchedMedia(recording?.url ?? null, recording?.video ? "video/webm" : "audio/wav");
  const media = useRef<HTMLMediaElement | null>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const [peaks, setPeaks] = useState<Float32Array | null>(null);
  const [waveform, setWaveform] = useState<"decoding" | "drawn" | "silent">("decoding");
  const [duration, setDuration] = useState(0);
  const [time, setTime] = useState(0);
  const [playing, setPlaying] = useState(false);
  const [segments, setSegments] = useState<Marked[]>([]);
  const [selected, setSelected] = useState<number | null>(null);
  const [next, setNext] = useState(classes[0] ?? "");
  const [pending, setPending] = useState<number | null>(null);
  const [draft, setDraft] = useState<{ from: number; to: number; moved: boolean } | null>(null);
  const [notice, setNotice] = useState("");

  // Decode the file for its waveform (a video without sound has none: its timeline still works).
  const bytes = fetched.state === "ready" ? fetched.bytes : null;
  useEffect(() => {
    if (bytes === null) return;
    let cancelled = false;
    new OfflineAudioContext(1, 1, 16_000)
      .decodeAudioData(bytes.slice(0))
      .then((buffer) => {
        if (cancelled) return;
        setPeaks(peaksOf(buffer, WIDTH));
        setDuration((known) => (known > 0 ? known : buffer.duration));
        setWaveform("drawn");
      })
      .catch(() => {
        if (!cancelled) setWaveform("silent");
      });
    return () => {
      cancelled = true;
    };
  }, [bytes]);

  // The playhead follows the recording while it plays.
  useEffect(() => {
    if (!playing) return;
    let frame = 0;
    const step = () => {
      if (media.current !== null) setTime(media.current.currentTime);
      frame = requestAnimationFrame(step);
    };
    frame = requestAnimationFrame(step);
    return () => cancelAnimationFrame(frame);
  }, [playing]);

  // Draw: the segments under the waveform, the drag, the marked start and the playhead.
  useEffect(() => {
    const context = canvas.current?.getContext("2d");
    if (!context) return;
    context.clearRect(0, 0, WIDTH, HEIGHT);
    context.fillStyle = "#f3f5f8";
    context.fillRect(0, 0, WIDTH, HEIGHT);
    const x = (t: number) => (duration > 0 ? (t / duration) * WIDTH : 0);
    segments.forEach((segment, index) => {
      context.globalAlpha = index === selected ? 0.38 : 0.2;
      context.fillStyle = colourOf(classes, segment.class);
      context.fillRect(x(segment.start), 0, x(segment.end) - x(segment.start), HEIGHT);
      context.globalAlpha = 1;
      context.fillStyle = colourOf(classes, segment.class);
      context.font = "bold 15px system-ui, sans-serif";
      context.fillText(`${index + 1} ${segment.class}`, x(segment.start) + 4, 17);
      if (index === selected) {
        context.strokeStyle = "#1b1f24";
        context.lineWidth = 3;
        context.strokeRect(x(segment.start) + 1.5, 1.5, x(segment.end) - x(segment.start) - 3, HEIGHT - 3);
      }
    });
    if (draft !== null && draft.moved) {
      context.globalAlpha = 0.3;
      context.fillStyle = colourOf(classes, next);
      context.fillRect(x(Math.min(draft.from, draft.to)), 0, Math.abs(x(draft.to) - x(draft.from)), HEIGHT);
      context.globalAlpha = 1;
    }
    if (peaks !== null) {
      context.strokeStyle = "#1b1f24";
      context.lineWidth = 1;
      context.beginPath();
      const middle = HEIGHT / 2;
      for (let column = 0; column < WIDTH; column += 1) {
        const low = peaks[2 * column] ?? 0;
        const high = peaks[2 * column + 1] ?? 0;
        context.moveTo(column + 0.5, middle - high * (middle - 4) - 0.5);
        context.lineTo(column + 0.5, middle - low * (middle - 4) + 0.5);
      }
      context.stroke();
    } else {
      context.strokeStyle = "#5a6470";
      context.beginPath();
      context.moveTo(0, HEIGHT / 2);
      context.lineTo(WIDTH, HEIGHT / 2);
      context.stroke();
    }
    if (pending !== null) {
      context.strokeStyle = colourOf(classes, next);
      context.setLineDash([6, 4]);
      context.lineWidth = 3;
      context.beginPath();
      context.moveTo(x(pending), 0);
      context.lineTo(x(pending), HEIGHT);
      context.stroke();
      context.setLineDash([]);
    }
    context.strokeStyle = "#c2410c";
    context.lineWidth = 2;
    context.beginPath();
    context.moveTo(x(time), 0);
    context.lineTo(x(time), HEIGHT);
    context.stroke();
  }, [peaks, segments, selected, draft, pending, time, duration, classes, next]);

  function seek(to: number) {
    const element = media.current;
    const t = clamp(to, 0, duration);
    if (element !== null) element.currentTime = t;
    setTime(t);
  }

  function togglePlay() {
    const element = media.current;
    if (element === null) return;
    if (element.paused) {
      element.play().catch((error: unknown) => setNotice(`It did not play: ${error instanceof Error ? error.message : String(error)}`));
    } else {
      element.pause();
    }
  }

  function add(from: number, to: number) {
    const start = clamp(Math.min(from, to), 0, duration);
    const end = clamp(Math.max(from, to), 0, duration);
    if (end - start < SHORTEST) {
      setNotice("A segment lasts at least 0.05 s: mark its end later than its start.");
      return;
    }
    setSegments((all) => [...all, { class: next, start: rounded(start, 2), end: rounded(end, 2) }]);
    setSelected(null);
    setNotice(`Segment ${segments.length + 1} marked: ${next}, ${seconds(start)} to ${seconds(end)}.`);
  }

  function change(index: number, part: Partial<Marked>) {
    setSegments((all) => all.map((s, n) => (n === index ? { ...s, ...part } : s)));
  }

  function nudge(index: number, edge: "start" | "end", by: number) {
    const segment = segments[index];
    if (segment === undefined) return;
    const value = rounded(segment[edge] + by, 2);
    const ok = edge === "start" ? value >= 0 && value < segment.end : value > segment.start && value <= duration;
    if (ok) change(index, { [edge]: value });
  }

  function remove(index: number) {
    setSegments((all) => all.filter((_, n) => n !== index));
    setSelected(null);
    setNotice(`Segment ${index + 1} deleted.`);
  }

  function pick(value: string) {
    setNext(value);
    if (selected !== null) change(selected, { class: value });
  }

  const invalid = segments.findIndex((s) => !(s.start >= 0 && s.end > s.start && (duration === 0 || s.end <= duration + 0.005)));

  function send() {
    if (invalid >= 0) {
      setNotice(`Segment ${invalid + 1} ends before it starts: fix its times first.`);
      return;
    }
    onSubmit(JSON.stringify(segments.map((s) => ({ class: s.class, start: rounded(s.start, 2), end: rounded(s.end, 2) }))));
  }

  usePageKeyEvents((event) => {
    const { key } = event;
    const value = classForKey(classes, key);
    if (value !== undefined) {
      pick(value);
      return true;
    }
    if (fetched.state !== "ready") return false;
    switch (key) {
      case " ":
        togglePlay();
        return true;
      case "[":
        setPending(time);
        setNotice(`Start marked at ${seconds(time)}: press ] where the segment ends.`);
        return true;
      case "]":
        if (pending === null) {
          setNotice("Press [ where a segment starts first, then ] where it ends.");
        } else {
          add(pending, time);
          setPending(null);
        }
        return true;
      case "ArrowLeft":
      case "ArrowRight": {
        const sign = key === "ArrowLeft" ? -1 : 1;
        if (selected !== null) nudge(selected, event.shiftKey ? "end" : "start", sign * NUDGE);
        else seek(time + sign * (event.shiftKey ? 0.1 : 0.5));
        return true;
      }
      case "Delete":
      case "Backspace":
        if (selected === null) return false;
        remove(selected);
        return true;
      case "Escape":
        setSelected(null);
        setPending(null);
        return true;
      case "Enter":
        if (segments.length === 0) return false;
        send();
        return true;
      default:
        return false;
    }
  });

  if (recording === null || fetched.state === "failed") {
    return (
      <WithoutMedia item={item} name={name} what="recording to play"
        failure={fetched.state === "failed" ? fetched.message : undefined} />
    );
  }

  /** The time under the pointer, in seconds. */
  function timeAt(event: PointerEvent<HTMLCanvasElement>): number {
    const rect = event.currentTarget.getBoundingClientRect();
    return clamp((event.clientX - rect.left) / rect.width, 0, 1) * duration;
  }

  const ready = fetched.state === "ready";
  const mediaProps = {
    src: ready ? fetched.objectUrl : undefined,
    preload: "auto" as const,
    onLoadedMetadata: (event: { currentTarget: HTMLMediaElement }) => {
      const length = event.currentTarget.duration;
      if (Number.isFinite(length) && length > 0) setDuration(length);
    },
    onPlay: () => setPlaying(true),
    onPause: () => {
      setPlaying(false);
      if (media.current !== null) setTime(media.current.currentTime);
    },
    onSeeked: () => {
      if (media.current !== null) setTime(media.current.currentTime);
    },
  };

  return (
    <>
      <ItemFrame externalId={item.external_id}>
        <p className="muted">
          Play the recording (Space) and mark each stretch of a class: drag across the waveform, or press [ where it starts and ]
          where it ends while it plays. A click moves the playhead. Keys 1 to 9 pick the class; pick a segment in the list to nudge
          its start with ←/→ (Shift: its end) or delete it (Delete). Enter sends them all.
        </p>
        {recording.video ? (
          <video ref={(element) => { media.current = element; }} className="segments-video" aria-label={`${name}: video`} playsInline {...mediaProps} />
        ) : (
          <audio ref={(element) => { media.current = element; }} aria-label={`${name}: audio`} {...mediaProps} />
        )}
        <div className="segments-transport">
          <button type="button" onClick={togglePlay} aria-keyshortcuts="Space" disabled={!ready}>
            {playing ? "Pause" : "Play"}
          </button>
          <button type="button" onClick={() => { setPending(time); setNotice(`Start marked at ${seconds(time)}: press ] where the segment ends.`); }} aria-keyshortcuts="[" disabled={!ready}>
            Mark start
          </button>
          <button
            type="button"
            onClick={() => {
              if (pending !== null) {
                add(pending, time);
                setPending(null);
              }
            }}
            aria-keyshortcuts="]"
            disabled={!ready || pending === null}
          >
            Mark end
          </button>
          <span className="segments-time" aria-live="off">
            {seconds(time)} of {seconds(duration)}
          </span>
        </div>
        <canvas
          ref={canvas}
          width={WIDTH}
          height={HEIGHT}
          className="segments-waveform"
          role="img"
          aria-label={`${name}: waveform of the recording, ${seconds(duration)} long, with ${segments.length} segments marked`}
          data-waveform={waveform}
          onPointerDown={(event) => {
            if (duration <= 0) return;
            event.currentTarget.setPointerCapture(event.pointerId);
            const t = timeAt(event);
            setDraft({ from: t, to: t, moved: false });
          }}
          onPointerMove={(event) => {
            if (draft === null) return;
            const t = timeAt(event);
            const moved = draft.moved || Math.abs(t - draft.from) >= SHORTEST;
            setDraft({ ...draft, to: t, moved });
          }}
          onPointerUp={(event) => {
            if (draft === null) return;
            const t = timeAt(event);
            if (draft.moved && Math.abs(t - draft.from) >= SHORTEST) add(draft.from, t);
            else seek(t);
            setDraft(null);
          }}
        />
        {waveform === "silent" && ready && <p className="muted">This recording has no sound to draw; mark its segments on the timeline.</p>}
      </ItemFrame>
      <ClassPicker
        classes={classes}
        value={next}
        onPick={pick}
        name={`${id}-class`}
        legend={`Class of the next segment${selected !== null ? ` and of segment ${selected + 1}` : ""}`}
      />
      <h2 className="objects-heading">Segments marked</h2>
      {segments.length === 0 ? (
        <p className="muted">None yet. If there is nothing to mark, submit no segments.</p>
      ) : (
        <ol className="objects-list" aria-label="Segments marked">
          {segments.map((segment, n) => (
            <ObjectRow key={n} noun="segment" index={n} selected={n === selected} onSelect={() => setSelected(n === selected ? null : n)}
              classes={classes} value={segment.class} onClass={(value) => change(n, { class: value })} onDelete={() => remove(n)}>
              <label>
                Start of segment {n + 1} (s){" "}
                <input
                  type="number"
                  className="segments-seconds"
                  min={0}
                  max={duration || undefined}
                  step={NUDGE}
                  value={segment.start}
                  aria-invalid={!(segment.start < segment.end)}
                  onChange={(e) => change(n, { start: Number(e.target.value) })}
                />
              </label>
              <label>
                End of segment {n + 1} (s){" "}
                <input
                  type="number"
                  className="segments-seconds"
                  min={0}
                  max={duration || undefined}
                  step={NUDGE}
                  value={segment.end}
                  aria-invalid={!(segment.start < segment.end)}
                  onChange={(e) => change(n, { end: Number(e.target.value) })}
                />
              </label>
              <button type="button" onClick={() => seek(segment.start)}>
                Go to segment {n + 1}
              </button>
            </ObjectRow>
          ))}
        </ol>
      )}
      <p role="status">
        {segments.length === 1 ? "1 segment" : `${segments.length} segments`} marked
        {selected !== null ? `; segment ${selected + 1} selected` : ""}
        {pending !== null ? `; a start marked at ${seconds(pending)}` : ""}
        {notice ? `. ${notice}` : ""}
      </p>
      <button type="button" className="primary" aria-keyshortcuts="Enter" onClick={send}>
        {segments.length === 0 ? "Submit no segments" : "Submit the segments"}
      </button>
    </>
  );
}
