const UNITS: Readonly<Record<string, number>> = {
  '': 1000,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/**
 * A duration as people write it: `30d`, `12h`, `90m`, `45s`, `2w`, sums like `1d12h`, or a plain
 * number of seconds. Returns milliseconds, or undefined for anything else.
 */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (t === '' || !/^(?:\d+(?:\.\d+)?[smhdw]?)+$/.test(t)) return undefined;
  if (/^\d+(?:\.\d+)?$/.test(t)) return Number(t) * 1000;
  let total = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)([smhdw])/g)) total += Number(m[1]) * UNITS[m[2]!]!;
  // Every part must carry a unit once there are several ("1d12" is refused).
  return /^(?:\d+(?:\.\d+)?[smhdw])+$/.test(t) ? total : undefined;
}
