/** Median and p95 of a sample, and a fixed-width line for reports. */
export function summarize(samples: number[]): { median: number; p95: number; n: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  return { median: at(0.5), p95: at(0.95), n: sorted.length };
}

export function line(label: string, samples: number[], unit = "ms"): string {
  const { median, p95, n } = summarize(samples);
  return `${label.padEnd(52)} median ${median.toFixed(2).padStart(8)} ${unit}   p95 ${p95.toFixed(2).padStart(8)} ${unit}   (n=${n})`;
}
