// Tracks: each object of a video followed through its frames. The video is shown one frame at a
// time (the slider, or , and . a frame back and on, Space plays); a drag on the frame draws the
// selected track's box there, a keyframe. Between two keyframes of a track its box is
// interpolated, linearly, corner by corner: shown dashed, and sent as boxes of their own, so a
// track runs from its first keyframe to its last with a box on every frame. N starts a new track,
// keys 1 to 9 pick the class, Delete removes the selected track's keyframe on this frame, Enter
// sends [{"class": c, "frames": {"<frame>": [x_min, y_min, x_max, y_max]}}, ...].
import { useEffect, useId, useRef, useState } from "react";

import { type Box, BoxCanvas, hasArea, type ShownBox } from "../BoxCanvas";
import { ClassPicker, classForKey, usePageKeyEvents } from "./ClassPicker";
import { ItemFrame } from "./ItemFrame";
import { ObjectRow } from "./ObjectRow";
import { Kbd } from "./keys";
import { clamp, numberIn, useFetchedMedia, videoOf } from "./media";
import { WithoutMedia } from "./NoMedia";
import type { WidgetProps } from "./types";

interface Track {
  class: string;
  /** The boxes drawn, by frame number: the keyframes. */
  keys: Map<number, Box>;
}

/** A frame rate when the item names none: what most cameras record. */
const DEFAULT_FPS = 30;

/** The track's box on `frame`: its keyframe, or interpolated between the keyframes around it
 * (null outside its first and last keyframe). */
export function boxAt(track: Track, frame: number): { box: Box; key: boolean } | null {
  const own = track.keys.get(frame);
  if (own !== undefined) return { box: own, key: true };
  let before: number | null = null;
  let after: number | null = null;
  for (const f of track.keys.keys()) {
    if (f < frame && (before === null || f > before)) before = f;
    if (f > frame && (after === null || f < after)) after = f;
  }
  if (before === null || after === null) return null;
  const a = track.keys.get(before) as Box;
  const b = track.keys.get(after) as Box;
  const t = (frame - before) / (after - before);
  const box = a.map((value, i) => Math.round((value + ((b[i] ?? value) - value) * t) * 10) / 10) as Box;
  return { box, key: false };
}

/** The track as its label has it: every frame from its first keyframe to its last. */
function framesOf(track: Track): Record<string, Box> {
  const keys = [...track.keys.keys()].sort((a, b) => a - b);
  const frames: Record<string, Box> = {};
  const first = keys[0];
  const last = keys[keys.length - 1];
  if (first === undefined || last === undefined) return frames;
  for (let f = first; f <= last; f += 1) {
    const at = boxAt(track, f);
    if (at !== null) frames[String(f)] = at.box;
  }
  return frames;
}

export function TracksWidget({ item, name, onSubmit }: WidgetProps) {
  const id = useId();
  const classes = item.label_classes;
  const url = videoOf(item.data);
  const named = numberIn(item.data, ["fps", "frame_rate", "framerate"]);
  const fps = named ?? DEFAULT_FPS;
  const fetched = useFetchedMedia(url, "video/webm");
  const video = useRef<HTMLVideoElement>(null);
  const [frames, setFrames] = useState(0);
  const [frame, setFrame] = useState(0);
  const [picture, setPicture] = useState<{ src: string; frame: number } | null>(null);
  const [playing, setPlaying] = useState(false);
  const [tracks, setTracks] = useState<Track[]>([]);
  const [selected, setSelected] = useState<number | null>(null);
  const [next, setNext] = useState(classes[0] ?? "");
  const [draft, setDraft] = useState<Box | null>(null);
  const [notice, setNotice] = useState("");

  // Seek to the middle of the frame, then take its picture once the video presents it: the
  // video frame callback says which frame that is (right after "seeked" Chromium may still hold
  // the frame before), and "seeked" alone serves a browser without it.
  useEffect(() => {
    const element = video.current;
    if (element === null || frames === 0) return;
    let cancelled = false;
    let callback: number | null = null;
    const grab = () => {
      if (cancelled || element.videoWidth === 0) return;
      const canvas = document.createElement("canvas");
      canvas.width = element.videoWidth;
      canvas.height = element.videoHeight;
      canvas.getContext("2d")?.drawImage(element, 0, 0);
      setPicture({ src: canvas.toDataURL("image/png"), frame });
    };
    const frameCallbacks = "requestVideoFrameCallback" in element;
    const presented = (_now: number, shown: VideoFrameCallbackMetadata) => {
      callback = null;
      if (Math.floor(shown.mediaTime * fps + 0.01) === frame) grab();
      else callback = element.requestVideoFrameCallback(presented);
    };
    const seeked = () => {
      if (!frameCallbacks) grab();
    };
    const target = (frame + 0.5) / fps;
    element.addEventListener("seeked", seeked);
    if (frameCallbacks) callback = element.requestVideoFrameCallback(presented);
    if (Math.abs(element.currentTime - target) < 1e-6 && element.readyState >= 2 && !element.seeking) {
      grab();
    } else {
      element.currentTime = target;
    }
    return () => {
      cancelled = true;
      element.removeEventListener("seeked", seeked);
      if (callback !== null) element.cancelVideoFrameCallback(callback);
    };
  }, [frame, frames, fps]);

  // Playing steps through the frames at the video's rate (each one shown and drawable).
  useEffect(() => {
    if (!playing) return;
    const timer = window.setInterval(() => {
      setFrame((f) => {
        if (f + 1 >= frames) {
          setPlaying(false);
          return f;
        }
        return f + 1;
      });
    }, 1000 / fps);
    return () => window.clearInterval(timer);
  }, [playing, frames, fps]);

  function go(to: number) {
    setFrame(clamp(Math.round(to), 0, Math.max(0, frames - 1)));
  }

  function newTrack(value = next) {
    setTracks((all) => [...all, { class: value, keys: new Map() }]);
    setSelected(tracks.length);
    setNotice(`Track ${tracks.length + 1} (${value}) started: draw its box on this frame.`);
  }

  function setKey(index: number, at: number, box: Box | null) {
    setTracks((all) =>
      all.map((track, n) => {
        if (n !== index) return track;
        const keys = new Map(track.keys);
        if (box === null) keys.delete(at);
        else keys.set(at, box);
        return { ...track, keys };
      }),
    );
  }

  function removeTrack(index: number) {
    setTracks((all) => all.filter((_, n) => n !== index));
    setSelected(null);
    setNotice(`Track ${index + 1} deleted.`);
  }

  function removeKey() {
    if (selected === null) return;
    if (!tracks[selected]?.keys.has(frame)) {
      setNotice(`Track ${selected + 1} has no box drawn on frame ${frame}.`);
      return;
    }
    setKey(selected, frame, null);
    setNotice(`Track ${selected + 1}'s box on frame ${frame} deleted.`);
  }

  function pick(value: string) {
    setNext(value);
    if (selected !== null) setTracks((all) => all.map((t, n) => (n === selected ? { ...t, class: value } : t)));
  }

  function send() {
    const label = tracks
      .filter((track) => track.keys.size > 0)
      .map((track) => ({ class: track.class, frames: framesOf(track) }));
    onSubmit(JSON.stringify(label));
  }

  usePageKeyEvents((event) => {
    const { key } = event;
    const value = classForKey(classes, key);
    if (value !== undefined) {
      pick(value);
      return true;
    }
    switch (key) {
      case ",":
      case "<":
        go(frame - 1);
        return true;
      case ".":
      case ">":
        go(frame + 1);
        return true;
      case "Home":
        go(0);
        return true;
      case "End":
        go(frames - 1);
        return true;
      case " ":
        setPlaying((p) => !p);
        return true;
      case "n":
      case "N":
        newTrack();
        return true;
      case "Delete":
      case "Backspace":
        if (selected === null) return false;
        removeKey();
        return true;
      case "Escape":
        setSelected(null);
        return true;
      case "Enter":
        if (tracks.length === 0) return false;
        send();
        return true;
      default:
        return false;
    }
  });

  if (url === null || fetched.state === "failed") {
    return (
      <WithoutMedia item={item} name={name} what="video to track objects in"
        failure={fetched.state === "failed" ? fetched.message : undefined} />
    );
  }

  const shown: ShownBox[] = [];
  tracks.forEach((track, n) => {
    const at = boxAt(track, frame);
    if (at === null) return;
    shown.push({
      box: at.box,
      caption: `${n + 1} ${track.class}${at.key ? "" : " (between keyframes)"}`,
      selected: n === selected,
    });
  });
  if (draft !== null) shown.push({ box: draft, caption: tracks[selected ?? -1]?.class ?? next });
  const current = picture !== null && picture.frame === frame;
  const keyframes = selected === null ? [] : [...(tracks[selected]?.keys.keys() ?? [])].sort((a, b) => a - b);

  return (
    <>
      <ItemFrame externalId={item.external_id}>
        <p className="muted">
          Step through the frames (the slider, or , and .) and drag on the frame to draw the selected track's box there. Boxes
          between two of a track's keyframes are filled in, straight from one to the next: draw again where the object turns. N
          starts a new track; keys 1 to 9 pick its class; Delete removes the track's box on this frame. Enter sends them all.
        </p>
        {named === null && <p className="notice">The item names no frame rate: frames are counted at {DEFAULT_FPS} a second.</p>}
        <video
          ref={video}
          className="tracks-source"
          src={fetched.state === "ready" ? fetched.objectUrl : undefined}
          preload="auto"
          muted
          playsInline
          aria-hidden="true"
          onLoadedMetadata={(event) => {
            const length = event.currentTarget.duration;
            const count = numberIn(item.data, ["frames", "frame_count"]) ?? (Number.isFinite(length) ? Math.floor(length * fps + 1e-6) : 0);
            setFrames(Math.max(1, Math.round(count)));
          }}
        />
        <div className="tracks-frame" aria-busy={!current}>
          {picture === null ? (
            <p className="muted">Loading the video…</p>
          ) : (
            <BoxCanvas
              src={picture.src}
              name={`${name}: frame ${picture.frame}`}
              boxes={shown}
              onDraw={(box, done) => {
                if (!done) return setDraft(box);
                setDraft(null);
                if (!hasArea(box)) return;
                if (selected === null || tracks[selected] === undefined) {
                  setTracks((all) => [...all, { class: next, keys: new Map([[frame, box]]) }]);
                  setSelected(tracks.length);
                  setNotice(`Track ${tracks.length + 1} (${next}) started on frame ${frame}.`);
                } else {
                  setKey(selected, frame, box);
                  setNotice(`Track ${selected + 1}'s box drawn on frame ${frame}.`);
                }
              }}
            />
          )}
        </div>
        <div className="tracks-scrub">
          <button type="button" onClick={() => setPlaying((p) => !p)} aria-keyshortcuts="Space" disabled={frames === 0}>
            {playing ? "Pause" : "Play"}
          </button>
          <button type="button" onClick={() => go(frame - 1)} aria-keyshortcuts="," disabled={frame === 0}>
            <Kbd>,</Kbd> Previous frame
          </button>
          <label className="tracks-slider">
            Frame{" "}
            <input
              type="range"
              min={0}
              max={Math.max(0, frames - 1)}
              step={1}
              value={frame}
              onChange={(event) => go(Number(event.target.value))}
              aria-valuetext={`frame ${frame} of ${frames}`}
            />
          </label>
          <button type="button" onClick={() => go(frame + 1)} aria-keyshortcuts="." disabled={frame >= frames - 1}>
            Next frame <Kbd>.</Kbd>
          </button>
          <span className="segments-time">
            Frame {frame} of {frames} ({(frame / fps).toFixed(2)} s)
          </span>
        </div>
      </ItemFrame>
      <ClassPicker
        classes={classes}
        value={next}
        onPick={pick}
        name={`${id}-class`}
        legend={`Class of the next track${selected !== null ? ` and of track ${selected + 1}` : ""}`}
      />
      <div className="segments-transport">
        <button type="button" onClick={() => newTrack()} aria-keyshortcuts="N">
          <Kbd>N</Kbd> New track
        </button>
        <button type="button" onClick={removeKey} aria-keyshortcuts="Delete" disabled={selected === null || !tracks[selected]?.keys.has(frame)}>
          Delete this frame's box
        </button>
      </div>
      <h2 className="objects-heading">Tracks</h2>
      {tracks.length === 0 ? (
        <p className="muted">None yet. If there is nothing to track, submit no tracks.</p>
      ) : (
        <ol className="objects-list" aria-label="Tracks">
          {tracks.map((track, n) => {
            const keys = [...track.keys.keys()].sort((a, b) => a - b);
            return (
              <ObjectRow key={n} noun="track" index={n} selected={n === selected} onSelect={() => setSelected(n === selected ? null : n)}
                classes={classes} value={track.class}
                onClass={(value) => setTracks((all) => all.map((t, m) => (m === n ? { ...t, class: value } : t)))}
                onDelete={() => removeTrack(n)}>
                <span>
                  {keys.length === 0
                    ? "no box yet"
                    : `keyframes ${keys.join(", ")} (frames ${keys[0]} to ${keys[keys.length - 1]})`}
                </span>
              </ObjectRow>
            );
          })}
        </ol>
      )}
      <p role="status">
        {tracks.length === 1 ? "1 track" : `${tracks.length} tracks`}
        {selected !== null ? `; track ${selected + 1} selected, keyframes ${keyframes.join(", ") || "none"}` : ""}
        {notice ? `. ${notice}` : ""}
      </p>
      <button type="button" className="primary" aria-keyshortcuts="Enter" onClick={send}>
        {tracks.length === 0 ? "Submit no tracks" : "Submit the tracks"}
      </button>
    </>
  );
}
