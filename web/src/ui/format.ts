/** 0x1234…abcd: the start and end of an address, as wallets show it. */
export function shortAddress(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

export function percent(ratio: number | null | undefined): string {
  return ratio === null || ratio === undefined ? "none yet" : `${(ratio * 100).toFixed(1)}%`;
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "none yet";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 36 * 3600) return `${Number((seconds / 3600).toFixed(1))} h`;
  const days = Number((seconds / 86400).toFixed(1));
  return `${days} ${days === 1 ? "day" : "days"}`;
}
