// COCO's uncompressed run-length encoding of a binary mask, as the masks kind reads it
// (ledger/kinds/masks.py) and pycocotools writes it: {"size": [height, width], "counts": [...]},
// the pixels read column by column (top to bottom, then the next column to the right), in runs
// alternately outside and inside the mask, starting outside (0 when the first pixel is inside),
// with no empty run after the first, the last run ending at the last pixel. Pure functions, no DOM.

export interface Rle {
  size: [number, number];
  counts: number[];
}

/** The RLE of `mask`, one value a pixel row by row (as a canvas holds its pixels), nonzero
 * inside the mask. */
export function encodeRle(mask: ArrayLike<number>, width: number, height: number): Rle {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`a mask is at least 1 by 1 pixel, not ${width} by ${height}`);
  }
  if (mask.length !== width * height) {
    throw new RangeError(`a ${width} by ${height} mask has ${width * height} pixels, not ${mask.length}`);
  }
  const counts: number[] = [];
  let inside = false;
  let run = 0;
  for (let x = 0; x < width; x += 1) {
    for (let at = x; at < mask.length; at += width) {
      if ((mask[at] !== 0) !== inside) {
        counts.push(run);
        run = 0;
        inside = !inside;
      }
      run += 1;
    }
  }
  counts.push(run);
  return { size: [height, width], counts };
}

/** The mask an RLE encodes, one byte a pixel row by row, 1 inside; RangeError if its runs do
 * not fill its size. */
export function decodeRle(rle: Rle): Uint8Array {
  const [height, width] = rle.size;
  const mask = new Uint8Array(width * height);
  let index = 0; // column-major position
  rle.counts.forEach((run, n) => {
    if (!Number.isInteger(run) || run < 0) throw new RangeError(`run ${n} is ${run}, not a whole number >= 0`);
    if (n % 2 === 1) {
      for (let k = index; k < index + run; k += 1) {
        const x = Math.floor(k / height);
        const y = k - x * height;
        if (x < width) mask[y * width + x] = 1;
      }
    }
    index += run;
  });
  if (index !== width * height) throw new RangeError(`the runs sum to ${index}, not height * width = ${width * height}`);
  return mask;
}

/** The pixels inside the mask. */
export function rleArea(rle: Rle): number {
  return rle.counts.reduce((sum, run, n) => (n % 2 === 1 ? sum + run : sum), 0);
}
