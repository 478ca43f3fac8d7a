// The picture the polygons, keypoints and masks widgets draw on: shown at its own proportions
// (never letterboxed, so a pointer's place on it is a place in the picture), with a layer over it
// (an SVG or a canvas) laid out in the picture's natural pixels. The layer is given the picture's
// size and how many of its pixels one screen pixel spans, so handles keep their size on screen.
import { type ReactNode, useEffect, useRef, useState } from "react";

export interface Stage {
  /** The picture's natural size, in its own pixels. */
  width: number;
  height: number;
  /** Picture pixels per screen pixel, as the picture is shown now. */
  unit: number;
}

/** Where a pointer is over `element` (laid over the whole picture), in picture pixels, kept
 * inside the picture. */
export function picturePoint(
  event: { clientX: number; clientY: number },
  element: Element,
  stage: Pick<Stage, "width" | "height">,
): [number, number] {
  const rect = element.getBoundingClientRect();
  if (rect.width <= 0 || rect.height <= 0) return [0, 0];
  const x = ((event.clientX - rect.left) / rect.width) * stage.width;
  const y = ((event.clientY - rect.top) / rect.height) * stage.height;
  return [Math.min(Math.max(x, 0), stage.width), Math.min(Math.max(y, 0), stage.height)];
}

export function ImageStage({
  src,
  name,
  className,
  onSize,
  children,
}: {
  src: string;
  name: string;
  className?: string;
  /** Told the picture's natural size once it has loaded. */
  onSize?: (size: { width: number; height: number }) => void;
  /** The layer over the picture, once its size is known. */
  children: (stage: Stage) => ReactNode;
}) {
  const frame = useRef<HTMLDivElement>(null);
  const [natural, setNatural] = useState<{ width: number; height: number } | null>(null);
  const [shown, setShown] = useState(0);
  const [failed, setFailed] = useState(false);

  useEffect(() => {
    const element = frame.current;
    if (element === null) return;
    const observer = new ResizeObserver((entries) => {
      const width = entries[0]?.contentRect.width ?? 0;
      setShown(width);
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  const ratio = natural === null ? 1 : natural.width / natural.height;
  return (
    <div
      ref={frame}
      className={`image-stage${className ? ` ${className}` : ""}`}
      data-ready={natural !== null}
      style={
        natural === null
          ? undefined
          : { aspectRatio: `${natural.width} / ${natural.height}`, width: `min(100%, calc(min(50vh, 24rem) * ${ratio}))` }
      }
    >
      <img
        className="item-image"
        src={src}
        alt={name}
        draggable={false}
        referrerPolicy="no-referrer"
        onLoad={(event) => {
          const { naturalWidth, naturalHeight } = event.currentTarget;
          if (naturalWidth <= 0 || naturalHeight <= 0) return;
          setNatural({ width: naturalWidth, height: naturalHeight });
          onSize?.({ width: naturalWidth, height: naturalHeight });
        }}
        onError={() => setFailed(true)}
      />
      {natural !== null && children({ ...natural, unit: shown > 0 ? natural.width / shown : 1 })}
      {failed && (
        <p className="notice notice-error" role="alert">
          The picture at {src} did not load; skip the item as "Does not load" so that its buyer sees it.
        </p>
      )}
    </div>
  );
}
