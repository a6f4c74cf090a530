/**
 * Just enough DER (ITU-T X.690) to build and take apart X.509 v3 certificates (RFC 5280)
 * without a dependency. Only the types a certificate needs are here; every encoder returns a
 * complete tag-length-value element, so a structure is written the way the ASN.1 reads.
 */

/** Universal tags (X.690 8.x; X.680 8.4), all in the single-octet low-tag-number form. */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  /** 0x10 with the constructed bit (0x20) set. */
  SEQUENCE: 0x30,
  /** 0x11 with the constructed bit set. */
  SET: 0x31,
} as const;

const CONTEXT_PRIMITIVE = 0x80;
const CONTEXT_CONSTRUCTED = 0xa0;

/** Definite-length encoding: short form below 128, else 0x80|count then big-endian bytes (X.690 8.1.3, 10.1). */
export function encodeLength(length: number): Buffer {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`invalid DER length ${length}`);
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One element: identifier octet, length, contents. */
export function tlv(tag: number, contents: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(contents.length), contents]);
}

export function sequence(...items: Buffer[]): Buffer {
  return tlv(TAG.SEQUENCE, Buffer.concat(items));
}

/**
 * SET OF: DER requires the members in ascending order of their encodings (X.690 11.6), or
 * two encoders could produce different bytes for the same Name and break byte-wise matching.
 */
export function set(...items: Buffer[]): Buffer {
  return tlv(TAG.SET, Buffer.concat([...items].sort((a, b) => Buffer.compare(a, b))));
}

/**
 * A non-negative INTEGER from big-endian bytes. DER wants the shortest two's-complement form
 * (X.690 8.3.2), so redundant leading zeros go, and a 0x00 is put back when the top bit is set,
 * or the value would read as negative (RFC 5280 4.1.2.2 requires positive serial numbers).
 */
export function integer(value: Buffer): Buffer {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  let body = value.length === 0 ? Buffer.from([0]) : value.subarray(start);
  if ((body[0]! & 0x80) !== 0) body = Buffer.concat([Buffer.from([0]), body]);
  return tlv(TAG.INTEGER, body);
}

/**
 * OBJECT IDENTIFIER from dotted form: the first two arcs share one subidentifier (40*a + b),
 * each subidentifier is base-128 with the high bit marking "more follows" (X.690 8.19).
 */
export function oid(dotted: string): Buffer {
  if (!/^[0-2](\.(0|[1-9][0-9]*))+$/.test(dotted)) throw new Error(`invalid OID "${dotted}"`);
  const arcs = dotted.split('.').map(Number);
  const [first, second, ...rest] = arcs as [number, number, ...number[]];
  if (first < 2 && second >= 40) throw new Error(`invalid OID "${dotted}": second arc must be below 40`);
  const subidentifiers = [first * 40 + second, ...rest];
  if (!subidentifiers.every(Number.isSafeInteger)) throw new Error(`invalid OID "${dotted}": arc too large`);
  return tlv(TAG.OID, Buffer.from(subidentifiers.flatMap(base128)));
}

function base128(value: number): number[] {
  const digits = [value % 128];
  for (let rest = Math.floor(value / 128); rest > 0; rest = Math.floor(rest / 128)) digits.unshift((rest % 128) | 0x80);
  return digits;
}

/** UTF8String: the DirectoryString choice RFC 5280 4.1.2.4 says new certificates use. */
export function utf8String(text: string): Buffer {
  return tlv(TAG.UTF8_STRING, Buffer.from(text, 'utf8'));
}

/** BIT STRING: the first content octet counts the unused bits at the end (X.690 8.6.2). */
export function bitString(bytes: Buffer, unusedBits = 0): Buffer {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7 || (bytes.length === 0 && unusedBits !== 0)) {
    throw new RangeError(`invalid unused bit count ${unusedBits}`);
  }
  return tlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

/**
 * A named-bit BIT STRING such as KeyUsage (RFC 5280 4.2.1.3) from bit numbers, bit 0 being the
 * most significant bit of the first octet. DER drops trailing zero bits (X.690 11.2.2), so the
 * string ends at the highest bit set and the unused count says how much of the last octet is padding.
 */
export function namedBitString(bits: readonly number[]): Buffer {
  if (bits.length === 0) return bitString(Buffer.alloc(0));
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) {
    if (!Number.isInteger(bit) || bit < 0) throw new RangeError(`invalid bit number ${bit}`);
    bytes[Math.floor(bit / 8)]! |= 0x80 >> bit % 8;
  }
  return bitString(bytes, 7 - (highest % 8));
}

export function octetString(bytes: Buffer): Buffer {
  return tlv(TAG.OCTET_STRING, bytes);
}

/** DER spells TRUE as 0xFF, nothing else (X.690 11.1). */
export function boolean(value: boolean): Buffer {
  return tlv(TAG.BOOLEAN, Buffer.from([value ? 0xff : 0x00]));
}

/**
 * A certificate validity time. RFC 5280 4.1.2.5: UTCTime (YYMMDDHHMMSSZ) through 2049,
 * GeneralizedTime (YYYYMMDDHHMMSSZ) from 2050; always UTC with seconds and no fraction.
 */
export function time(date: Date): Buffer {
  const year = date.getUTCFullYear();
  if (Number.isNaN(year) || year < 1950 || year > 9999) throw new RangeError(`date outside X.509 range: ${String(date)}`);
  const two = (n: number): string => String(n).padStart(2, '0');
  const rest =
    two(date.getUTCMonth() + 1) +
    two(date.getUTCDate()) +
    two(date.getUTCHours()) +
    two(date.getUTCMinutes()) +
    two(date.getUTCSeconds()) +
    'Z';
  return year < 2050
    ? tlv(TAG.UTC_TIME, Buffer.from(two(year % 100) + rest, 'latin1'))
    : tlv(TAG.GENERALIZED_TIME, Buffer.from(String(year) + rest, 'latin1'));
}

function contextTag(number: number, constructed: boolean): number {
  // Numbers 31 and up need the multi-octet identifier form, which no certificate field uses.
  if (!Number.isInteger(number) || number < 0 || number > 30) throw new RangeError(`invalid context tag [${number}]`);
  return (constructed ? CONTEXT_CONSTRUCTED : CONTEXT_PRIMITIVE) | number;
}

/** [n] EXPLICIT: a constructed wrapper around a whole element, e.g. TBSCertificate's version [0] and extensions [3]. */
export function explicit(number: number, element: Buffer): Buffer {
  return tlv(contextTag(number, true), element);
}

/**
 * [n] IMPLICIT: the context tag replaces the element's own tag, keeping only its contents,
 * e.g. GeneralName's dNSName [2] IA5String (RFC 5280 4.2.1.6). Constructed when the
 * underlying type is (SEQUENCE, SET).
 */
export function implicit(number: number, contents: Buffer, constructed = false): Buffer {
  return tlv(contextTag(number, constructed), contents);
}

/** A parsed element; `contents` and `encoded` are views into the input, not copies. */
export interface DerElement {
  readonly tag: number;
  readonly contents: Buffer;
  /** The whole element, identifier and length included. */
  readonly encoded: Buffer;
}

/** Reads the element starting at `offset`. Strict: definite lengths only, no high tag numbers. */
export function readElement(input: Buffer, offset = 0): DerElement {
  const tag = input[offset];
  const first = input[offset + 1];
  if (tag === undefined || first === undefined) throw new Error('DER: truncated element');
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: high tag numbers are not supported');
  let length = first;
  let headerLength = 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    // 0x80 is BER's indefinite length, which DER forbids (X.690 10.1).
    if (count === 0 || count > 4) throw new Error('DER: unsupported length encoding');
    length = 0;
    for (let i = 0; i < count; i++) {
      const byte = input[offset + 2 + i];
      if (byte === undefined) throw new Error('DER: truncated length');
      length = length * 256 + byte;
    }
    headerLength += count;
  }
  const end = offset + headerLength + length;
  if (end > input.length) throw new Error('DER: element runs past the end of its input');
  return { tag, contents: input.subarray(offset + headerLength, end), encoded: input.subarray(offset, end) };
}

/** The elements inside a constructed element's contents, in order. */
export function readChildren(contents: Buffer): DerElement[] {
  const children: DerElement[] = [];
  for (let offset = 0; offset < contents.length; ) {
    const child = readElement(contents, offset);
    children.push(child);
    offset += child.encoded.length;
  }
  return children;
}
