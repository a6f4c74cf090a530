/**
 * Making agent-controlled text inert in each channel. The agent chooses its stated reason and
 * context, the request parameters and the resource names, so any of them may hold mention
 * syntax (`<!channel>`, `<@U123>`, `<at>Boss</at>`), disguised links (`<http://evil|click>`,
 * `[click](http://evil)`), invisible bidirectional overrides or megabytes of padding. Every
 * piece of such text goes through `clean` (controls), a length cap, and the channel's escape.
 * Plain JSON (the generic webhook) needs no escaping: the receiver is a program.
 */

/** Caps on agent-controlled text, in characters before escaping. */
export const TEXT_LIMITS = {
  reason: 500,
  context: 200,
  preview: 2000,
  /** One resource name, action, rule or owner in a list. */
  item: 200,
  /** Items shown in a list before "and N more". */
  listItems: 10,
} as const;

export const ELLIPSIS = '…';

// Bidirectional overrides and isolates (the "Trojan Source" characters) and the marks around them.
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// C0 and C1 controls except tab and newline; carriage returns are handled before.
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
const REPLACEMENT = '\ufffd';

/** Normalises newlines and replaces control and bidi-override characters with U+FFFD, visibly. */
export function clean(text: string): string {
  return text.replace(/\r\n?/g, '\n').replace(CONTROLS, REPLACEMENT).replace(BIDI, REPLACEMENT);
}

/** `clean`, then every run of whitespace (newlines included) as one space: for names and list items. */
export function oneLine(text: string): string {
  return clean(text).replace(/\s+/g, ' ').trim();
}

/**
 * At most `max` UTF-16 units, the last of them an ellipsis when anything was cut. Never splits
 * a surrogate pair (a lone surrogate makes some receivers reject the whole payload).
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  let end = max - ELLIPSIS.length;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return text.slice(0, Math.max(0, end)) + ELLIPSIS;
}

/**
 * Truncates `raw` to `maxRaw` characters, escapes it, and shortens the raw text further until
 * the escaped form fits `maxEscaped` (escaping can grow `&` five-fold). Cutting before escaping
 * keeps entities and backslash escapes whole.
 */
export function fitEscaped(raw: string, maxRaw: number, maxEscaped: number, escape: (text: string) => string): string {
  let limit = Math.min(raw.length, maxRaw);
  for (;;) {
    const escaped = escape(truncate(raw, limit));
    if (escaped.length <= maxEscaped) return escaped;
    if (limit <= 0) return '';
    // Each raw character escapes to at most five, so this never cuts more than needed.
    limit -= Math.max(1, Math.ceil((escaped.length - maxEscaped) / 5));
  }
}

/**
 * Slack mrkdwn: `&`, `<` and `>` become entities, so `<!channel>`, `<!here>`, `<@U123>`,
 * `<#C123>`, `<!subteam^S1>` and `<http://evil|click>` display as typed and do nothing. Slack
 * Block Kit only notifies on that angle-bracket syntax, so a bare `@channel` is already inert
 * and nothing else is stripped. Formatting characters (`*`, `_`, `~`, backticks) only style text
 * and stay. Apply to `clean`ed text.
 */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Adaptive Card markdown (Teams): a CommonMark subset with bold, italic, lists and links.
 * Backslash-escapes the characters that open inline markup anywhere (`\ * _ [ ] ( ) < > ` ~ &`,
 * so `[x](http://evil)` renders literally), the ones that start a list or heading only at the
 * start of a line (`-`, `+`, `#`, `1.`), breaks `{{` so card date/time functions do not run,
 * and breaks `<at>` mention tags with an invisible word joiner so no text can mention anyone
 * (Teams matches `<at>…</at>` in the raw text). Apply to `clean`ed text.
 */
export function escapeTeams(text: string): string {
  return text
    .replace(/[\\*_[\]()<>`~&]/g, '\\$&')
    .replace(/(\\<)(\/?)(at)\b/gi, '$1$2\u2060$3')
    .replace(/\{\{/g, '{\u2060{')
    .replace(/^([ \t]*)([-+#]|\d+\.)/gm, (_match, space: string, marker: string) => `${space}${marker.replace(/[-+#.]/, '\\$&')}`);
}

/**
 * A list of agent-controlled items as one escaped string: each item `oneLine`d and capped, at
 * most `maxItems` shown followed by "and N more", the whole within `maxEscaped` characters.
 */
export function escapedList(
  items: readonly string[],
  escape: (text: string) => string,
  options: { maxItems?: number; maxItem?: number; maxEscaped: number; separator?: string },
): string {
  const maxItems = options.maxItems ?? TEXT_LIMITS.listItems;
  const maxItem = options.maxItem ?? TEXT_LIMITS.item;
  const separator = options.separator ?? '\n';
  const more = (count: number): string => escape(`${ELLIPSIS} and ${count} more`);
  if (items.length === 0) return escape('(none)');
  const parts: string[] = [];
  for (const [index, item] of items.entries()) {
    if (parts.length >= maxItems) break;
    const part = escape(truncate(oneLine(item), maxItem));
    const after = items.length - index - 1;
    const candidate = [...parts, part, ...(after > 0 ? [more(after)] : [])].join(separator);
    if (candidate.length > options.maxEscaped) break;
    parts.push(part);
  }
  const omitted = items.length - parts.length;
  if (omitted > 0) parts.push(more(omitted));
  return parts.join(separator);
}

/** A timestamp (milliseconds since the epoch) as `2025-01-31 14:05 UTC`. */
export function formatUtc(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}
