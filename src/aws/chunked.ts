/**
 * Signed streaming payloads (`Content-Encoding: aws-chunked`, `x-amz-content-sha256:
 * STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`): every chunk of the body carries a signature
 * chained to the one before it, starting from the request's header signature (the seed).
 * countersign re-signs the request head, so the chain must be re-signed too: chunkResigner()
 * verifies each chunk against the agent's chain and emits it signed on countersign's chain.
 *
 * Wire format (AWS S3 API reference, "Transferring Payload in Multiple Chunks" and "Including
 * Trailing Headers"; AWS SDK for Java v2 and minio-go as written clients):
 *
 *   chunk        = hex(size) ";chunk-signature=" sig64 CRLF data CRLF
 *   final chunk  = "0;chunk-signature=" sig64 CRLF CRLF                       (-PAYLOAD)
 *                | "0;chunk-signature=" sig64 CRLF trailer-lines
 *                  "x-amz-trailer-signature:" sig64 CRLF [CRLF]               (-TRAILER)
 *
 *   chunk sig    = HMAC(key, "AWS4-HMAC-SHA256-PAYLOAD\n" date "\n" scope "\n" previous "\n"
 *                            sha256("") "\n" sha256(data))
 *   trailer sig  = HMAC(key, "AWS4-HMAC-SHA256-TRAILER\n" date "\n" scope "\n" previous "\n"
 *                            sha256(for each trailer, sorted by name: name ":" value "\n"))
 *
 * Trailer lines may end in LF or CRLF and blank lines may come before the signature line
 * (minio-go writes `name:value\n` CRLF `x-amz-trailer-signature:...`). Every signature is 64
 * hex digits and all other bytes pass through as they came, so the output is exactly as long
 * as the input: Content-Length and X-Amz-Decoded-Content-Length stay valid.
 *
 * Memory is one chunk: a chunk's data is held until it is complete, because its new signature
 * precedes it. Nothing is forwarded before it verified; the final chunk (and trailer) is held
 * until the input ends, so a body with anything after its final chunk never reaches AWS whole.
 */
import { createHash, createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { CountersignError } from '../errors.js';
import { sha256Hex, signingKey } from './sigv4-verify.js';

/** One signature chain: the key, date and scope the chunks are signed with, and its seed. */
export interface ChunkChain {
  readonly signingKey: KeyObject;
  /** `20130524T000000Z`: the request's X-Amz-Date. */
  readonly longDate: string;
  /** `20130524/us-east-1/s3/aws4_request`. */
  readonly scope: string;
  /** The request's header (Authorization) signature, 64 lower-case hex digits. */
  readonly seedSignature: string;
}

export interface ChunkResignerOptions {
  /** The agent's chain: incoming signatures must match it. */
  readonly verify: ChunkChain;
  /** countersign's chain: outgoing signatures are computed on it. */
  readonly sign: ChunkChain;
  /** STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: a signed trailer follows the final chunk. */
  readonly trailer: boolean;
  /** Largest chunk accepted (its data is held in memory). Default 16 MiB. */
  readonly maxChunkBytes?: number;
  /** X-Amz-Decoded-Content-Length, when known: the chunks' sizes must add up to it. */
  readonly decodedContentLength?: number;
}

export type SignedStreamingMode = 'payload' | 'trailer';

/** The signed streaming mode an `x-amz-content-sha256` value names, if any. */
export function signedStreamingMode(value: string | undefined): SignedStreamingMode | undefined {
  if (value === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD') return 'payload';
  if (value === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER') return 'trailer';
  return undefined;
}

/** A chain for `secret` at `longDate` in `region`/`service`, seeded with the header signature. */
export function chunkChain(secret: string, longDate: string, region: string, service: string, seedSignature: string): ChunkChain {
  const shortDate = longDate.slice(0, 8);
  return { signingKey: signingKey(secret, shortDate, region, service), longDate, scope: `${shortDate}/${region}/${service}/aws4_request`, seedSignature };
}

/** A transform that verifies an aws-chunked body on one chain and re-signs it on another. */
export function chunkResigner(options: ChunkResignerOptions): Transform {
  return new ChunkResigner(options);
}

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const SIGNATURE = /^[0-9a-f]{64}$/;
const DEFAULT_MAX_CHUNK_BYTES = 16 * 1024 * 1024;
/** `ffffffff;chunk-signature=` + 64 + CRLF is 91 bytes; anything much longer is not a chunk header. */
const MAX_HEADER_BYTES = 128;
/** Trailers are a checksum or two. */
const MAX_TRAILER_BYTES = 8 * 1024;
/** A chunk's data in more pieces than this is copied into one buffer. */
const MAX_PIECES = 16;
const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n', 'latin1');
const CHUNK_HEADER = /^([0-9a-fA-F]{1,8});chunk-signature=([0-9a-fA-F]{64})\r\n$/;
const TRAILER_SIGNATURE_NAME = 'x-amz-trailer-signature';
const TRAILER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):([^\r\n\0]*?)\r?\n$/;


function malformed(message: string): CountersignError {
  return new CountersignError('MalformedChunkedBody', `Malformed aws-chunked body: ${message}.`);
}

function equalSignatures(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'latin1');
  const b = Buffer.from(given, 'latin1');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A chain in progress: the fixed prefixes of its strings to sign and the running signature. */
class RunningChain {
  private readonly payloadPrefix: string;
  private readonly trailerPrefix: string;
  private readonly key: KeyObject;
  previous: string;

  constructor(chain: ChunkChain) {
    if (!SIGNATURE.test(chain.seedSignature)) throw new TypeError('seedSignature must be 64 lower-case hex digits');
    this.key = chain.signingKey;
    this.payloadPrefix = `AWS4-HMAC-SHA256-PAYLOAD\n${chain.longDate}\n${chain.scope}\n`;
    this.trailerPrefix = `AWS4-HMAC-SHA256-TRAILER\n${chain.longDate}\n${chain.scope}\n`;
    this.previous = chain.seedSignature;
  }

  chunk(dataHash: string): string {
    return createHmac('sha256', this.key).update(`${this.payloadPrefix}${this.previous}\n${EMPTY_SHA256}\n${dataHash}`).digest('hex');
  }

  trailer(canonicalHash: string): string {
    return createHmac('sha256', this.key).update(`${this.trailerPrefix}${this.previous}\n${canonicalHash}`).digest('hex');
  }
}

type State =
  | 'header' // reading `size;chunk-signature=...\r\n`
  | 'data' // reading a chunk's data
  | 'dataEnd' // reading the CRLF after a chunk's data
  | 'finalEnd' // reading the CRLF after the final chunk (-PAYLOAD)
  | 'trailer' // reading trailer lines up to the trailer signature (-TRAILER)
  | 'trailerEnd' // reading the optional CRLF after the trailer signature
  | 'done';

class ChunkResigner extends Transform {
  private readonly verifier: RunningChain;
  private readonly signer: RunningChain;
  private readonly trailerMode: boolean;
  private readonly maxChunkBytes: number;
  private readonly decodedContentLength: number | undefined;

  private state: State = 'header';
  /** Chunk number, from 1, for messages. */
  private chunkNumber = 0;
  private decoded = 0;
  /** Pieces of the line being read (chunk header or trailer line) and their length. */
  private line: Buffer[] = [];
  private lineLength = 0;
  /** The current chunk: its size as written, the signature it came with, its data so far. */
  private sizeText = '';
  private givenSignature = '';
  private remaining = 0;
  private chunkSize = 0;
  private data: Buffer[] = [];
  /** The chunk's data copied into one buffer, once it came in more than MAX_PIECES pieces. */
  private joined: Buffer | undefined;
  private joinedLength = 0;
  /** Bytes of a CRLF seen so far. */
  private crlfSeen = 0;
  /** Trailer section: raw lines read and the trailers they name. */
  private trailerLines: Buffer[] = [];
  private trailerBytes = 0;
  private trailers: [string, string][] = [];
  /** The final chunk and trailer, re-signed, forwarded once the input ends cleanly. */
  private held: Buffer[] = [];

  constructor(options: ChunkResignerOptions) {
    super();
    this.verifier = new RunningChain(options.verify);
    this.signer = new RunningChain(options.sign);
    this.trailerMode = options.trailer;
    this.maxChunkBytes = options.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES;
    this.decodedContentLength = options.decodedContentLength;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(chunk);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (this.state === 'done' || (this.state === 'trailerEnd' && this.crlfSeen === 0)) {
      for (const piece of this.held) this.push(piece);
      this.held = [];
      callback();
      return;
    }
    const what = this.state === 'trailer' ? 'the trailer signature' : this.state === 'trailerEnd' ? 'the end of the trailer' : 'the final chunk';
    callback(malformed(`the body ended before ${what}`));
  }

  private consume(buf: Buffer): void {
    let pos = 0;
    while (pos < buf.length) {
      switch (this.state) {
        case 'header':
        case 'trailer': {
          const lf = buf.indexOf(LF, pos);
          const end = lf === -1 ? buf.length : lf + 1;
          this.addToLine(buf.subarray(pos, end));
          pos = end;
          if (lf !== -1) {
            const line = this.takeLine();
            if (this.state === 'header') this.chunkHeader(line);
            else this.trailerLine(line);
          }
          break;
        }
        case 'data': {
          const take = Math.min(this.remaining, buf.length - pos);
          this.addData(buf.subarray(pos, pos + take));
          pos += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = 'dataEnd';
          break;
        }
        case 'dataEnd':
        case 'finalEnd': {
          if (buf[pos] !== (this.crlfSeen === 0 ? CR : LF)) throw malformed(`chunk ${this.chunkNumber} is not followed by CRLF`);
          pos += 1;
          if (++this.crlfSeen < 2) break;
          this.crlfSeen = 0;
          if (this.state === 'dataEnd') {
            this.emitChunk();
            this.state = 'header';
          } else {
            this.held.push(CRLF);
            this.state = 'done';
          }
          break;
        }
        case 'trailerEnd': {
          const byte = buf[pos];
          if (this.crlfSeen === 0 && byte === CR) this.crlfSeen = 1;
          else if (byte === LF) {
            this.held.push(this.crlfSeen === 0 ? CRLF.subarray(1) : CRLF);
            this.crlfSeen = 0;
            this.state = 'done';
          } else throw malformed('data after the trailer signature');
          pos += 1;
          break;
        }
        case 'done':
          throw malformed('data after the final chunk');
      }
    }
  }

  private addToLine(piece: Buffer): void {
    this.lineLength += piece.length;
    if (this.state === 'header' && this.lineLength > MAX_HEADER_BYTES) throw malformed(`chunk header ${this.chunkNumber + 1} is not a chunk header`);
    if (this.state === 'trailer' && this.trailerBytes + this.lineLength > MAX_TRAILER_BYTES) throw malformed(`the trailer is larger than ${MAX_TRAILER_BYTES} bytes`);
    this.line.push(piece);
  }

  private takeLine(): Buffer {
    const line = this.line.length === 1 ? (this.line[0] as Buffer) : Buffer.concat(this.line, this.lineLength);
    this.line = [];
    this.lineLength = 0;
    return line;
  }

  private chunkHeader(line: Buffer): void {
    this.chunkNumber += 1;
    const match = CHUNK_HEADER.exec(line.toString('latin1'));
    if (match === null) throw malformed(`chunk ${this.chunkNumber} has no valid size;chunk-signature header`);
    const sizeText = match[1] as string;
    const size = Number.parseInt(sizeText, 16);
    if (size > this.maxChunkBytes) throw malformed(`chunk ${this.chunkNumber} is larger than ${this.maxChunkBytes} bytes`);
    this.decoded += size;
    if (this.decodedContentLength !== undefined && (this.decoded > this.decodedContentLength || (size === 0 && this.decoded !== this.decodedContentLength))) {
      throw malformed('the chunk sizes do not add up to X-Amz-Decoded-Content-Length');
    }
    this.sizeText = sizeText;
    this.givenSignature = match[2] as string;
    if (size > 0) {
      this.chunkSize = size;
      this.remaining = size;
      this.state = 'data';
      return;
    }
    // The final chunk: nothing to wait for but what follows it.
    this.held.push(this.resign(EMPTY_SHA256));
    this.state = this.trailerMode ? 'trailer' : 'finalEnd';
  }

  /** Verifies the current chunk against its data hash; returns its header on the signing chain. */
  private resign(dataHash: string): Buffer {
    const expected = this.verifier.chunk(dataHash);
    if (!equalSignatures(expected, this.givenSignature)) {
      throw new CountersignError('SignatureMismatch', `The signature of aws-chunked chunk ${this.chunkNumber} does not match its data.`);
    }
    this.verifier.previous = expected;
    this.signer.previous = this.signer.chunk(dataHash);
    return Buffer.from(`${this.sizeText};chunk-signature=${this.signer.previous}\r\n`, 'latin1');
  }

  /**
   * Keeps a piece of the current chunk's data. A chunk read in a few pieces is kept (and
   * forwarded) as those pieces, uncopied; one that trickles in as many small pieces is copied
   * into one buffer of its size, so a slow sender costs the chunk's bytes and no more.
   */
  private addData(piece: Buffer): void {
    if (this.joined === undefined && this.data.length < MAX_PIECES) {
      this.data.push(piece);
      return;
    }
    if (this.joined === undefined) {
      this.joined = Buffer.allocUnsafe(this.chunkSize);
      this.joinedLength = 0;
      for (const kept of this.data) this.joinedLength += kept.copy(this.joined, this.joinedLength);
      this.data = [];
    }
    this.joinedLength += piece.copy(this.joined, this.joinedLength);
  }

  private emitChunk(): void {
    const pieces = this.joined === undefined ? this.data : [this.joined];
    this.data = [];
    this.joined = undefined;
    let dataHash: string;
    if (pieces.length === 1) dataHash = sha256Hex(pieces[0] as Buffer);
    else {
      const hash = createHash('sha256');
      for (const piece of pieces) hash.update(piece);
      dataHash = hash.digest('hex');
    }
    this.push(this.resign(dataHash));
    for (const piece of pieces) this.push(piece);
    this.push(CRLF);
  }

  private trailerLine(line: Buffer): void {
    this.trailerBytes += line.length;
    const text = line.toString('latin1');
    if (text === '\n' || text === '\r\n') {
      this.trailerLines.push(line);
      return;
    }
    const match = TRAILER_LINE.exec(text);
    if (match === null) throw malformed('a trailer line is not name:value');
    const name = (match[1] as string).toLowerCase();
    const value = match[2] as string;
    if (name === TRAILER_SIGNATURE_NAME) {
      if (!/^[0-9a-fA-F]{64}$/.test(value)) throw malformed('the trailer signature is not 64 hex digits');
      this.trailerSignature(match[1] as string, value, text.endsWith('\r\n') ? '\r\n' : '\n');
      return;
    }
    if (this.trailers.some(([seen]) => seen === name)) throw malformed('a trailer appears twice');
    this.trailers.push([name, value.replace(/^[ \t]+|[ \t]+$/g, '')]);
    this.trailerLines.push(line);
  }

  private trailerSignature(name: string, given: string, lineEnd: string): void {
    if (this.trailers.length === 0) throw malformed('the trailer signature signs no trailer');
    const canonical = this.trailers
      .slice()
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([trailerName, value]) => `${trailerName}:${value}\n`)
      .join('');
    const canonicalHash = sha256Hex(canonical);
    const expected = this.verifier.trailer(canonicalHash);
    if (!equalSignatures(expected, given)) throw new CountersignError('SignatureMismatch', 'The aws-chunked trailer signature does not match its trailers.');
    this.verifier.previous = expected;
    this.signer.previous = this.signer.trailer(canonicalHash);
    this.held.push(...this.trailerLines, Buffer.from(`${name}:${this.signer.previous}${lineEnd}`, 'latin1'));
    this.trailerLines = [];
    this.state = 'trailerEnd';
  }
}
