/** Human output for the CLI: aligned columns with a header row, ISO times, relative times. */

/** Rows under a header, each column as wide as its widest cell (the last one left ragged). */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** "4 min", "45 s", "3 h", "2 d": the largest unit that fits, rounded down. */
export function duration(ms: number): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

/** "in 4 min" or "4 min ago". */
export function relative(at: number, now: number): string {
  return at >= now ? `in ${duration(at - now)}` : `${duration(now - at)} ago`;
}

export function iso(at: number): string {
  return new Date(at).toISOString();
}

/** An ISO time with how far it is from now: "2026-11-21T10:04:00.000Z (in 4 min)". */
export function when(at: number, now: number): string {
  return `${iso(at)} (${relative(at, now)})`;
}

/**
 * Text an agent controls (its reason, a path, parameters) made safe for a reviewer's terminal:
 * control characters (an escape sequence could rewrite what is on screen) and bidirectional
 * overrides (which reorder what is shown) become visible \u escapes. Newlines stay when asked.
 */
export function printable(text: string, keepNewlines = false): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (ch) =>
    keepNewlines && ch === '\n' ? ch : `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
