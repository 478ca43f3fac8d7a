// The media an item names (a sound, a video, a point cloud), found as audioOf finds a clip: the
// data as the URL itself, a field named for the medium, or the first URL with the medium's file
// extension. URLs are paths on this server (/media/pets/1.png, a signed /v1/media/…/clip.wav?token)
// or the buyer's own; the file's name ends the path, any token rides in the query.
import { useEffect, useState } from "react";

import { audioOf } from "./TextWidget";

const URL_LIKE = /^(https?:\/\/|\/)\S+$/;
const VIDEO_URL = /^(https?:\/\/|\/)\S+\.(webm|mp4|m4v|ogv|mov)(\?\S*)?$/i;
const VIDEO_KEYS = ["video", "video_url", "clip", "url", "src"];
const CLOUD_URL = /^(https?:\/\/|\/)\S+\.(bin|xyz|f32)(\?\S*)?$/i;
const CLOUD_KEYS = ["cloud", "points", "point_cloud", "pointcloud", "lidar", "pcd", "url", "src"];

function fieldsOf(data: unknown): Record<string, unknown> | null {
  return data !== null && typeof data === "object" && !Array.isArray(data) ? (data as Record<string, unknown>) : null;
}

/** The first URL in `data` that the medium's field names or its extension give. */
function urlOf(data: unknown, pattern: RegExp, keys: string[], own: (key: string) => boolean): string | null {
  if (typeof data === "string") return pattern.test(data) ? data : null;
  const fields = fieldsOf(data);
  if (fields === null) return null;
  for (const key of keys) {
    const value = fields[key];
    if (typeof value === "string" && URL_LIKE.test(value) && (own(key) || pattern.test(value))) return value;
  }
  const found = Object.values(fields).find((value) => typeof value === "string" && pattern.test(value));
  return typeof found === "string" ? found : null;
}

/** The item's video: its data as a video URL, a `video` field, or the first video URL. */
export function videoOf(data: unknown): string | null {
  return urlOf(data, VIDEO_URL, VIDEO_KEYS, (key) => key.startsWith("video"));
}

/** The item's point cloud: float32 x, y, z triples, little-endian (a KITTI-style `.bin` of
 * x, y, z, intensity is read when its length says four floats a point and not three). */
export function cloudOf(data: unknown): string | null {
  return urlOf(data, CLOUD_URL, CLOUD_KEYS, (key) => !["url", "src"].includes(key));
}

/** What a segments item plays: its audio, else its video (whose sound, if any, is drawn). */
export function recordingOf(data: unknown): { url: string; video: boolean } | null {
  const audio = audioOf(data);
  const video = videoOf(data);
  // a .webm may be either: a `video` field, or a URL found as both, is a video
  if (video !== null && (audio === null || audio === video)) return { url: video, video: true };
  return audio === null ? null : { url: audio, video: false };
}

/** A number the item gives under one of `keys` (a video's `fps`), if positive. */
export function numberIn(data: unknown, keys: string[]): number | null {
  const fields = fieldsOf(data);
  if (fields === null) return null;
  for (const key of keys) {
    const value = fields[key];
    if (typeof value === "number" && Number.isFinite(value) && value > 0) return value;
  }
  return null;
}

export type Fetched =
  | { state: "loading" }
  | { state: "failed"; message: string }
  | { state: "ready"; bytes: ArrayBuffer; objectUrl: string };

/** The file at `url`, fetched once: its bytes and an object URL of them for a media element
 * (which then seeks in memory, whether or not the server answers range requests). */
export function useFetchedMedia(url: string | null, type: string): Fetched {
  // what was fetched, with the URL it was fetched from: another URL's answer is still loading
  const [fetched, setFetched] = useState<{ url: string; answer: Fetched } | null>(null);
  useEffect(() => {
    if (url === null) return;
    let cancelled = false;
    let objectUrl: string | null = null;
    fetch(url, { referrerPolicy: "no-referrer" })
      .then(async (answer) => {
        if (!answer.ok) throw new Error(`the item's file at ${url} answered ${answer.status}`);
        const bytes = await answer.arrayBuffer();
        if (cancelled) return;
        objectUrl = URL.createObjectURL(new Blob([bytes], { type: answer.headers.get("content-type") ?? type }));
        setFetched({ url, answer: { state: "ready", bytes, objectUrl } });
      })
      .catch((error: unknown) => {
        if (!cancelled) {
          setFetched({ url, answer: { state: "failed", message: error instanceof Error ? error.message : String(error) } });
        }
      });
    return () => {
      cancelled = true;
      if (objectUrl !== null) URL.revokeObjectURL(objectUrl);
    };
  }, [url, type]);
  return fetched !== null && fetched.url === url ? fetched.answer : { state: "loading" };
}

/** A number rounded to `places` decimals, as a label stores it. */
export function rounded(value: number, places: number): number {
  const scale = 10 ** places;
  return Math.round(value * scale) / scale;
}

/** `value` kept within [low, high]. */
export function clamp(value: number, low: number, high: number): number {
  return Math.min(Math.max(value, low), high);
}
