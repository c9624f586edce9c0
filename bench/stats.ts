// Order statistics for benchmark samples: median, quartiles (linear interpolation), min and max.

export interface Stats {
  n: number;
  median: number;
  min: number;
  max: number;
  p25: number;
  p75: number;
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Statistics of the finite samples; undefined when there are none. */
export function stats(samples: readonly number[]): Stats | undefined {
  const s = samples.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  const q = (f: number): number => {
    const i = (s.length - 1) * f;
    const lo = Math.floor(i);
    const hi = Math.ceil(i);
    return round(s[lo]! + (s[hi]! - s[lo]!) * (i - lo));
  };
  return {
    n: s.length,
    median: q(0.5),
    min: round(s[0]!),
    max: round(s.at(-1)!),
    p25: q(0.25),
    p75: q(0.75),
  };
}
