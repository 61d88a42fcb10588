/**
 * Row encoders for `COPY … FROM STDIN` (PostgreSQL docs, "COPY", file formats): the binary format
 * for the column types the schema uses (bytes go in as they are: no hex on either side, the
 * largest cost of the text format), and the text format as the fallback for any other type.
 * Pure: no I/O; the column types come from the caller.
 */

/** Size of the binary encoder's first buffer, in bytes; each next one is twice as large, up to BINARY_CHUNK_MAX_BYTES. */
const BINARY_CHUNK_FIRST_BYTES = 1 << 16;
/** Size of the binary encoder's largest buffers, in bytes. */
const BINARY_CHUNK_MAX_BYTES = 1 << 20;
/** Characters of COPY text handed out at once. */
const TEXT_CHUNK_CHARS = 256 * 1024;
/** The `bytea` type's OID (pg_type), the element type of a `bytea[]` in array binary format. */
export const BYTEA_OID = 17;
/** The header of a COPY binary stream: `PGCOPY\n\377\r\n\0`, flags (int32 0) and header extension length (int32 0). */
export const BINARY_HEADER = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
/** numeric binary sign word of a positive value (and of zero). */
export const NUMERIC_POSITIVE = 0x0000;
const NUMERIC_NEGATIVE = 0x4000;

/**
 * A value COPY cannot write. With `nodeData`, it is `0x` hex data a node sent that is not hex (bad
 * input from an endpoint, not a bug); the message names the column and, in a batch row, the block.
 */
export class CopyValueError extends TypeError {
  override readonly name = 'CopyValueError';
  constructor(message: string, readonly nodeData: boolean) {
    super(message);
  }
}

/** Postgres type names (`udt_name`) the binary encoder writes. */
export const BINARY_TYPES: ReadonlySet<string> = new Set(['int2', 'int4', 'int8', 'bool', 'bytea', 'numeric', 'jsonb', 'json', 'text', 'varchar', '_bytea']);

/**
 * Grows a list of buffers, 64 KiB first and twice as large each time up to 1 MiB, so a small COPY
 * (a few light blocks) allocates little; `chunks()` returns the filled parts (a mostly empty first
 * buffer as a copy of its size).
 */
export class BufferWriter {
  private readonly filled: Buffer[] = [];
  private next = BINARY_CHUNK_FIRST_BYTES;
  buf = Buffer.allocUnsafe(BINARY_CHUNK_FIRST_BYTES);
  at = 0;

  /** Makes room for `bytes` more bytes in `buf` at `at`. */
  room(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    if (this.at > 0) this.filled.push(this.buf.subarray(0, this.at));
    this.next = Math.min(BINARY_CHUNK_MAX_BYTES, this.next * 2);
    this.buf = Buffer.allocUnsafe(Math.max(this.next, bytes));
    this.at = 0;
  }
  int16(v: number): void { this.room(2); this.at = this.buf.writeInt16BE(v, this.at); }
  int32(v: number): void { this.room(4); this.at = this.buf.writeInt32BE(v, this.at); }
  bytes(b: Buffer): void { this.room(b.length); b.copy(this.buf, this.at); this.at += b.length; }
  chunks(): Buffer[] {
    // A first buffer mostly empty (a few light blocks fill a few kB of its 64 KiB) is handed out as
    // a copy of its size, so a caller that holds the chunks holds what they count. Larger buffers
    // are handed out as views: copying mainnet's cost 40–60 MB of peak RSS and speed in the bench.
    if (this.at > 0 && this.buf.length <= BINARY_CHUNK_FIRST_BYTES && this.at < this.buf.length / 2) this.filled.push(Buffer.from(this.buf.subarray(0, this.at)));
    else if (this.at > 0) this.filled.push(this.buf.subarray(0, this.at));
    this.at = 0;
    this.buf = Buffer.alloc(0);
    return this.filled;
  }
}

/** The end of a COPY binary stream: a tuple field count of -1. */
export const BINARY_TRAILER = Buffer.from([0xff, 0xff]);

/** A whole COPY binary stream around `tuples` (from one or several {@link copyBinaryTuples} calls for the same columns): header, tuples, trailer. */
export function copyBinaryStream(tuples: readonly Buffer[]): Buffer[] {
  return [BINARY_HEADER, ...tuples, BINARY_TRAILER];
}

/**
 * `rows` as one whole COPY binary stream for `columns` of Postgres types `types` (udt names, all
 * in BINARY_TYPES): {@link copyBinaryStream} of {@link copyBinaryTuples}.
 * @throws like copyBinaryTuples.
 */
export function copyBinary(rows: readonly object[], columns: readonly string[], types: readonly string[]): Buffer[] {
  return copyBinaryStream(copyBinaryTuples(rows, columns, types));
}

/**
 * The tuples of `rows` in COPY binary format (no header, no trailer: tuples of several calls for
 * the same columns may follow one header) for `columns` of Postgres types `types` (udt names, all
 * in BINARY_TYPES), in buffers of 64 KiB to 1 MiB. Values: null/undefined → NULL; integers from
 * number, bigint or decimal string; numeric from decimal string, number or bigint; bytea from
 * Buffer or `0x` hex; jsonb/json/text from string (objects are JSON-stringified); `_bytea` from an
 * array of Buffers or `0x` hex.
 * @throws TypeError naming the column when a value does not fit its type (a bug in the caller);
 *   CopyValueError (`nodeData`) naming the column and the row's block when hex data a node sent is
 *   not hex.
 */
export function copyBinaryTuples(rows: readonly object[], columns: readonly string[], types: readonly string[]): Buffer[] {
  const w = new BufferWriter();
  for (const row of rows) {
    const record = row as Record<string, unknown>;
    w.int16(columns.length);
    for (let i = 0; i < columns.length; i++) {
      const value = record[columns[i]!];
      if (value === null || value === undefined) w.int32(-1);
      else {
        try {
          writeValue(w, types[i]!, value, columns[i]!);
        } catch (err) {
          throw err instanceof CopyValueError ? inRow(err, record) : err;
        }
      }
    }
  }
  return w.chunks();
}

const TWO_TO_32 = 2 ** 32;

/**
 * Writes one non-null `value` of a column of Postgres type `type` (a BINARY_TYPES name) as a COPY
 * binary field (length, then bytes), as {@link copyBinaryTuples} does for each value; exported for
 * the decode thread's transcoder (src/decode/transcode.ts), which writes tuples itself.
 * @throws like copyBinaryTuples.
 */
export function writeValue(w: BufferWriter, type: string, value: unknown, column: string): void {
  switch (type) {
    case 'bytea': return writeBytea(w, value, column);
    case 'numeric': return writeNumeric(w, typeof value === 'string' ? value : String(value), column);
    case 'int8': {
      w.room(12);
      w.at = w.buf.writeInt32BE(8, w.at);
      if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
        w.at = w.buf.writeUInt32BE(Math.floor(value / TWO_TO_32), w.at);
        w.at = w.buf.writeUInt32BE(value % TWO_TO_32, w.at);
      } else {
        w.at = w.buf.writeBigInt64BE(BigInt(value as number | string | bigint), w.at);
      }
      return;
    }
    case 'int4': w.int32(4); return w.int32(Number(value));
    case 'int2': w.int32(2); return w.int16(Number(value));
    case 'bool': w.int32(1); w.room(1); w.buf[w.at++] = value ? 1 : 0; return;
    case 'jsonb':
    case 'json':
    case 'text':
    case 'varchar': {
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      const prefix = type === 'jsonb' ? 1 : 0; // jsonb binary: version byte 1, then the text
      const length = Buffer.byteLength(text, 'utf8');
      w.room(4 + prefix + length);
      w.at = w.buf.writeInt32BE(length + prefix, w.at);
      if (prefix) w.buf[w.at++] = 1;
      w.at += w.buf.write(text, w.at, 'utf8');
      return;
    }
    case '_bytea': return writeByteaArray(w, value, column);
    default: throw new TypeError(`COPY: column ${column} has type ${type}, which the binary encoder does not write`);
  }
}

/**
 * Decodes `length` bytes of `hex` (digits only) into `buf` at `offset`; returns the bytes written,
 * fewer when a pair is not hex. Node's own decoder (`Buffer.prototype.hexWrite`, which
 * `Buffer#write(…, 'hex')` calls after checking its arguments) where present, else `Buffer#write`.
 */
export const decodeHex: (buf: Buffer, hex: string, offset: number, length: number) => number =
  typeof (Buffer.prototype as { hexWrite?: unknown }).hexWrite === 'function'
    ? (buf, hex, offset, length) => (buf as unknown as { hexWrite(s: string, o: number, l: number): number }).hexWrite(hex, offset, length)
    : (buf, hex, offset, length) => buf.write(hex, offset, length, 'hex');

/** A bytea value: a Buffer, or hex data (`0x` and an even number of digits) decoded straight into the output. */
function writeBytea(w: BufferWriter, value: unknown, column: string): void {
  if (typeof value === 'string') {
    const length = hexByteLength(value, column);
    w.room(4 + length);
    w.at = w.buf.writeInt32BE(length, w.at);
    // Buffer#write stops at the first pair that is not hex: a short count means bad digits.
    if (length > 0 && decodeHex(w.buf, value.slice(2), w.at, length) !== length) {
      throw new CopyValueError(`COPY: column ${column} (bytea) has a digit that is not hex in ${preview(value)}`, true);
    }
    w.at += length;
    return;
  }
  if (!Buffer.isBuffer(value)) throw new TypeError(`COPY: column ${column} (bytea) needs a Buffer or 0x hex`);
  w.int32(value.length);
  w.bytes(value);
}

/**
 * Bytes that `0x` hex data `value` holds.
 * @throws CopyValueError (node data) naming `column` when it lacks `0x` or has an odd number of digits.
 */
function hexByteLength(value: string, column: string): number {
  const length = (value.length - 2) / 2;
  if (!Number.isInteger(length) || value.charCodeAt(0) !== 48 || value.charCodeAt(1) !== 120) {
    throw new CopyValueError(`COPY: column ${column} (bytea) needs 0x and an even number of hex digits, got ${preview(value)}`, true);
  }
  return length;
}

/** `err` with the block number of `record` (a batch row: `block_number`, or `number` for blocks) in its message. */
function inRow(err: CopyValueError, record: Record<string, unknown>): CopyValueError {
  const block = record.block_number ?? record.number;
  return block === undefined ? err : new CopyValueError(`${err.message} (the row of block ${String(block)})`, err.nodeData);
}

/** The first 42 characters of `text`, for an error message. */
function preview(text: string): string {
  return JSON.stringify(text.length > 42 ? `${text.slice(0, 42)}…` : text);
}

/**
 * numeric binary: ndigits, weight, sign, dscale (int16 each), then base-10,000 digits (int16),
 * most significant first, trailing zero digits left out (the weight implies them). Integers only.
 */
function writeNumeric(w: BufferWriter, decimal: string, column: string): void {
  const negative = decimal.charCodeAt(0) === 45; // '-'
  let start = negative ? 1 : 0;
  while (start < decimal.length - 1 && decimal.charCodeAt(start) === 48) start++; // leading zeros
  const length = decimal.length - start;
  const groupCount = Math.ceil(length / 4);
  // Digits of base 10,000, most significant first; the first group takes the remainder digits.
  let used = groupCount;
  w.room(4 + 8 + 2 * groupCount);
  const lengthAt = w.at;
  let o = lengthAt + 4 + 8;
  let pos = start;
  let firstLength = length - 4 * (groupCount - 1);
  let lastNonZero = -1;
  for (let g = 0; g < groupCount; g++) {
    let value = 0;
    for (let k = 0; k < firstLength; k++) {
      const c = decimal.charCodeAt(pos++) - 48;
      if (c < 0 || c > 9) throw new TypeError(`COPY: column ${column} (numeric) needs an integer, got ${decimal}`);
      value = value * 10 + c;
    }
    firstLength = 4;
    w.buf.writeInt16BE(value, o + 2 * g);
    if (value !== 0) lastNonZero = g;
  }
  used = lastNonZero + 1;
  o = w.buf.writeInt32BE(8 + 2 * used, lengthAt);
  o = w.buf.writeInt16BE(used, o);
  o = w.buf.writeInt16BE(used === 0 ? 0 : groupCount - 1, o);
  o = w.buf.writeUInt16BE(negative && used > 0 ? NUMERIC_NEGATIVE : NUMERIC_POSITIVE, o);
  o = w.buf.writeInt16BE(0, o);
  w.at = o + 2 * used;
}

/** One-dimensional bytea[] in array binary format (ndim, has-null flag, element OID, size, lower bound 1, elements). */
function writeByteaArray(w: BufferWriter, value: unknown, column: string): void {
  if (!Array.isArray(value)) throw new TypeError(`COPY: column ${column} (bytea[]) needs an array of Buffers or 0x hex`);
  const elements = value as (Buffer | string | null)[];
  const byteLength = (e: Buffer | string) => (typeof e === 'string' ? hexByteLength(e, column) : e.length);
  const size = elements.length === 0 ? 12 : 20 + elements.reduce((sum, e) => sum + 4 + (e === null ? 0 : byteLength(e)), 0);
  w.int32(size);
  w.int32(elements.length === 0 ? 0 : 1);
  w.int32(elements.some((e) => e === null) ? 1 : 0);
  w.int32(BYTEA_OID);
  if (elements.length === 0) return;
  w.int32(elements.length);
  w.int32(1);
  for (const e of elements) {
    if (e === null) w.int32(-1);
    else writeBytea(w, e, column);
  }
}

/**
 * `rows` as COPY text format for `columns` of Postgres types `types` (udt names): tab-separated
 * fields, `\N` for null, backslashes and control characters escaped; bytea (a Buffer, or `0x` hex
 * in a bytea column) as `\x` hex, arrays as array literals, booleans as t/f, objects as JSON text.
 * Yields chunks of about 256 Ki characters. The fallback for types BINARY_TYPES lacks.
 */
export function* copyText(rows: readonly object[], columns: readonly string[], types: readonly string[]): Generator<string> {
  let chunk = '';
  for (const row of rows) {
    const record = row as Record<string, unknown>;
    let line = '';
    for (let i = 0; i < columns.length; i++) {
      if (i > 0) line += '\t';
      const value = record[columns[i]!];
      const type = types[i];
      try {
        line += type === 'bytea' && typeof value === 'string' ? textField(hexBytes(value, columns[i]!))
          : type === '_bytea' && Array.isArray(value) ? textField(value.map((e: unknown) => (typeof e === 'string' ? hexBytes(e, columns[i]!) : e)))
            : textField(value);
      } catch (err) {
        throw err instanceof CopyValueError ? inRow(err, record) : err;
      }
    }
    chunk += `${line}\n`;
    if (chunk.length >= TEXT_CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk.length > 0) yield chunk;
}

const NEEDS_ESCAPE = /[\\\n\r\t]/;

/** `0x` hex data of a bytea column as a Buffer for the text format. @throws TypeError naming the column when it is not hex. */
function hexBytes(value: string, column: string): Buffer {
  const buffer = Buffer.from(value.slice(2), 'hex');
  if (buffer.length !== hexByteLength(value, column)) throw new CopyValueError(`COPY: column ${column} (bytea) needs 0x and an even number of hex digits, got ${preview(value)}`, true);
  return buffer;
}

function textField(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  if (Buffer.isBuffer(value)) return `\\\\x${value.toString('hex')}`;
  switch (typeof value) {
    case 'string': return escapeText(value);
    case 'number':
    case 'bigint': return String(value);
    case 'boolean': return value ? 't' : 'f';
    default: return escapeText(Array.isArray(value) ? arrayLiteral(value) : JSON.stringify(value));
  }
}

/** A Postgres array literal of `values` (elements quoted; bytea as `\x` hex). */
function arrayLiteral(values: readonly unknown[]): string {
  const elements = values.map((v) => {
    if (v === null || v === undefined) return 'NULL';
    const text = Buffer.isBuffer(v) ? `\\x${v.toString('hex')}` : typeof v === 'string' ? v : JSON.stringify(v);
    return `"${text.replace(/["\\]/g, '\\$&')}"`;
  });
  return `{${elements.join(',')}}`;
}

function escapeText(text: string): string {
  if (!NEEDS_ESCAPE.test(text)) return text;
  return text.replace(/[\\\n\r\t]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t'));
}
