/**
 * The decode thread's fast path: a JSON-RPC answer of blocks and receipts turned straight from its
 * bytes into COPY binary tuples, with no `JSON.parse` and no row objects in between. It reads the
 * answer once, keeps where each field's value lies in the body (offsets, not strings), then writes
 * each table's tuples from those offsets: hex data decoded from the body's bytes into the tuples,
 * quantities read from their digits.
 *
 * It takes only answers of the shape Ethereum clients send (geth, Erigon, Reth, Nethermind):
 * every request a pair `eth_getBlockByNumber(n, true)` + `eth_getBlockReceipts(n)`, ASCII JSON
 * without escapes, receipts in the block's transaction order with the same hashes, hex where the
 * JSON-RPC spec says hex. Anything else (an error, an unknown shape, a value the general path
 * would keep in `extra` or refuse, bad hex, a receipt of another block) makes it give up and
 * return null, and the general path (`decodeBlocksAnswer`: `JSON.parse`, `validateBlock`,
 * `validateReceipts`, `toBatchRows`, `encodeRows`) decodes the answer as before: what it gives for
 * an answer it takes is, byte for byte, what the general path gives (test/integration/transcode.test.ts
 * holds it to that on every recorded chain and on mutated answers). Unknown fields of a block,
 * transaction, receipt, log or withdrawal (a client's additions, such as logs' `blockTimestamp`)
 * are taken, and go to `extra` as the general path puts them there.
 *
 * The native transcoder (native/, Rust; ./native.ts loads it) does the same work check for check
 * about four times faster and runs first when it is built (`NATIVE_TRANSCODER`); what it gives
 * up on comes here. Changes to what this file takes or writes must be made there too:
 * test/integration/transcode.test.ts holds both to the general path and to the same choices.
 *
 * Why: in the mainnet bench the decode thread spent about 5.9 ms of CPU per block, parsing (a
 * third), making rows and encoding them, and V8's collector threads about 2.7 ms more on the
 * garbage that left (tens of thousands of strings and objects per block). The transcoder keeps
 * its offsets in typed arrays it reuses, so it allocates little but the output: the worker's CPU
 * per mainnet block went from 10.7–11.1 ms to 8.4–8.6 ms, and the bench's product phase from
 * 99–102 to 116–120 blocks/s (alternating runs, 1,500 blocks:
 * bench/results/2026-12-04T19-59-28-100Z-general.json and the three after it).
 */
import { isAscii } from 'node:buffer';
import { BufferWriter, BYTEA_OID, decodeHex, NUMERIC_POSITIVE, writeValue } from '../db/copy-format.js';
import type { EncodedRows, EncodedTable, ColumnTypes } from '../db/encoded-rows.js';
import { ABSENT_FIELDS, BATCH_TABLES, type BatchTable } from '../db/rows.js';
import type { RpcOutcome, RpcRequest } from '../rpc/types.js';
import type { DecodedAnswer, DecodedEntry } from './blocks.js';
import { nativeTranscoder, type NativeTranscode } from './native.js';

/** Thrown inside the transcoder when the answer is not of the shape it takes; caught at its entry. */
class NotTaken {
  constructor(readonly why: string) {}
}
const give = (why: string): never => {
  throw new NotTaken(why);
};

// ---------------------------------------------------------------------------------------------
// Fields: each object kind's standard fields, by id. Their order is free; the ids index slots.
// ---------------------------------------------------------------------------------------------

/** Kind of a value a slot holds (0: the field is absent). */
const ABSENT = 0, STRING = 1, NULL = 2, TRUE = 3, FALSE = 4, NUMBER = 5, ARRAY = 6, OBJECT = 7;

const BLOCK = fields(['number', 'hash', 'parentHash', 'timestamp', 'miner', 'gasLimit', 'gasUsed', 'baseFeePerGas', 'difficulty',
  'totalDifficulty', 'size', 'nonce', 'mixHash', 'sha3Uncles', 'logsBloom', 'transactionsRoot', 'stateRoot',
  'receiptsRoot', 'extraData', 'withdrawalsRoot', 'blobGasUsed', 'excessBlobGas', 'parentBeaconBlockRoot',
  'requestsHash', 'uncles', 'transactions', 'withdrawals'], ['uncles', 'transactions', 'withdrawals']);
const TX = fields(['hash', 'blockHash', 'blockNumber', 'transactionIndex', 'type', 'nonce', 'from', 'to', 'value', 'gas', 'gasPrice',
  'maxFeePerGas', 'maxPriorityFeePerGas', 'maxFeePerBlobGas', 'blobVersionedHashes', 'input', 'chainId', 'v', 'r',
  's', 'yParity', 'accessList', 'authorizationList'], ['blockNumber', 'blobVersionedHashes', 'accessList', 'authorizationList']);
const RECEIPT = fields(['transactionHash', 'transactionIndex', 'blockHash', 'blockNumber', 'from', 'to', 'cumulativeGasUsed', 'gasUsed',
  'effectiveGasPrice', 'contractAddress', 'logs', 'logsBloom', 'status', 'root', 'type', 'blobGasUsed', 'blobGasPrice'], ['logs']);
const LOG = fields(['address', 'topics', 'data', 'blockNumber', 'blockHash', 'transactionHash', 'transactionIndex', 'logIndex', 'removed'], ['topics', 'blockNumber', 'removed']);
const WITHDRAWAL = fields(['index', 'validatorIndex', 'address', 'amount']);
const ITEM = fields(['jsonrpc', 'id', 'result', 'error'], ['jsonrpc', 'id', 'result', 'error']);

/** The standard fields of one object kind: names by id, and a lookup from a key's bytes to its id. */
type Fields = {
  names: readonly string[];
  byHash: Map<number, { id: number; bytes: Uint8Array }[]>;
  ids: Record<string, number>;
  /** By id: 1 when a string value is hex data or a quantity whose every byte the transcoder checks (so the scanner need not), else 0. */
  hex: Uint8Array;
};

/** `names` as Fields; every string field is hex (checked when read) except those in `text`, whose bytes the scanner checks. */
function fields(names: readonly string[], text: readonly string[] = []): Fields {
  const byHash = new Map<number, { id: number; bytes: Uint8Array }[]>();
  const ids: Record<string, number> = {};
  names.forEach((name, id) => {
    const bytes = Buffer.from(name, 'latin1');
    const h = keyHash(bytes, 0, bytes.length);
    byHash.set(h, [...(byHash.get(h) ?? []), { id, bytes }]);
    ids[name] = id;
  });
  const hex = Uint8Array.from(names, (name) => (text.includes(name) ? 0 : 1));
  return { names, byHash, ids, hex };
}

function keyHash(b: Uint8Array, start: number, end: number): number {
  let h = end - start;
  for (let i = start; i < end; i++) h = (Math.imul(h, 31) + b[i]!) | 0;
  return h;
}

const B = BLOCK.ids, T = TX.ids, R = RECEIPT.ids, L = LOG.ids, W = WITHDRAWAL.ids, I = ITEM.ids;
/** Fields whose value is an array of objects of another kind, parsed as such. */
const OBJECT_ARRAYS = new Map<Fields, Map<number, Fields>>([
  [BLOCK, new Map([[B.transactions!, TX], [B.withdrawals!, WITHDRAWAL]])],
  [RECEIPT, new Map([[R.logs!, LOG]])],
]);
/** Fields whose value, when an array, is read as an array of strings (spans kept). */
const STRING_ARRAYS = new Map<Fields, Set<number>>([
  [BLOCK, new Set([B.uncles!])],
  [TX, new Set([T.blobVersionedHashes!])],
  [LOG, new Set([L.topics!])],
]);

/**
 * Parsed objects live in one Int32Array, reused by every answer (the transcoder runs one answer at
 * a time, synchronously): no allocation per object. An object is the offset of its record:
 * HEADER ints (its next sibling in a list, the first and last of its unknown fields), then three per
 * standard field: kind, start and end of its value in the body (a string's without the quotes).
 * A field holding an array of objects (transactions, logs, …) has kind ARRAY, start its first
 * object (-1 when none) and end their count; one holding an array of strings (topics, uncles, blob
 * hashes) has start its first pair in {@link spans} and end their count.
 */
type Parsed = number;
const HEADER = 3;
const NEXT = 0, FIRST_OTHER = 1, LAST_OTHER = 2;
let slots = new Int32Array(1 << 16);
let slotsUsed = 0;
/** Unknown fields: next, key start, key end, value start, value end (with a string's quotes), value kind. */
let others = new Int32Array(1 << 12);
let othersUsed = 0;
const OTHER = 6;
/** String spans (start, end) of string-array fields. */
let spans = new Int32Array(1 << 12);
let spansUsed = 0;

function grow(array: Int32Array<ArrayBuffer>, needed: number): Int32Array<ArrayBuffer> {
  if (needed <= array.length) return array;
  const larger = new Int32Array(Math.max(needed, array.length * 2));
  larger.set(array);
  return larger;
}

const kindOf = (o: Parsed, id: number): number => slots[o + HEADER + 3 * id]!;
const startOf = (o: Parsed, id: number): number => slots[o + HEADER + 3 * id + 1]!;
const endOf = (o: Parsed, id: number): number => slots[o + HEADER + 3 * id + 2]!;

// ---------------------------------------------------------------------------------------------
// The scanner
// ---------------------------------------------------------------------------------------------

const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c, COLON = 0x3a, OPEN_ARRAY = 0x5b, CLOSE_ARRAY = 0x5d, OPEN_OBJECT = 0x7b, CLOSE_OBJECT = 0x7d;
/** Nibble of each hex digit byte; -1 for any other byte. */
const NIBBLE = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) NIBBLE[48 + c] = c;
for (let c = 0; c < 6; c++) {
  NIBBLE[97 + c] = 10 + c;
  NIBBLE[65 + c] = 10 + c;
}
/** Bytes a key the transcoder keeps in `extra` may hold: it must not be an array index (V8 orders those first) nor `__proto__`. */
const KEY_FIRST = new Uint8Array(256), KEY_REST = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36;
  KEY_FIRST[c] = letter ? 1 : 0;
  KEY_REST[c] = letter || (c >= 48 && c <= 57) ? 1 : 0;
}

/** Nesting (arrays and objects, from a result down) deeper than this makes the transcoder give up, as the native one (and the recursion stays far from the stack's end). */
const MAX_DEPTH = 64;

class Scanner {
  p = 0;
  /** Arrays and objects open at `p`, from the result being read down. */
  depth = 0;
  constructor(readonly b: Buffer) {}

  private deeper(): void {
    if (++this.depth > MAX_DEPTH) give('a value nested too deep');
  }

  ws(): void {
    const b = this.b;
    let p = this.p;
    for (;;) {
      const c = b[p];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    this.p = p;
  }

  /** Skips whitespace and then byte `c`, or gives up. */
  expect(c: number): void {
    this.ws();
    if (this.b[this.p] !== c) give(`expected ${String.fromCharCode(c)} at byte ${this.p}`);
    this.p++;
  }

  /** Whitespace, then `c` if it is there (true) or nothing (false). */
  take(c: number): boolean {
    this.ws();
    if (this.b[this.p] !== c) return false;
    this.p++;
    return true;
  }

  /**
   * A string at `p` (its opening quote): the end of its content; `p` after its closing quote. Gives
   * up on an escape or a control byte in it; with `checked` false, only on a backslash before the
   * closing quote (a quote it escapes would end the string early), for a value whose every byte
   * is checked later (hex data and quantities: any byte but a hex digit makes the transcoder give up).
   */
  string(checked = true): number {
    const b = this.b;
    const start = ++this.p;
    const end = b.indexOf(QUOTE, start);
    if (end < 0) give('a string does not end');
    if (checked) {
      for (let i = start; i < end; i++) {
        const c = b[i]!;
        if (c < 0x20 || c === BACKSLASH) give('a string has an escape or a control character');
      }
    } else if (b[end - 1] === BACKSLASH) {
      give('a string has an escape');
    }
    this.p = end + 1;
    return end;
  }

  /** Skips any JSON value at `p` (after whitespace); returns its kind. Its span is `[start, p)`. */
  value(): number {
    this.ws();
    const b = this.b;
    const c = b[this.p];
    if (c === QUOTE) {
      this.string();
      return STRING;
    }
    if (c === OPEN_ARRAY) {
      this.p++;
      this.deeper();
      if (!this.take(CLOSE_ARRAY)) {
        do this.value(); while (this.take(COMMA));
        this.expect(CLOSE_ARRAY);
      }
      this.depth--;
      return ARRAY;
    }
    if (c === OPEN_OBJECT) {
      this.p++;
      this.deeper();
      if (!this.take(CLOSE_OBJECT)) {
        do {
          this.ws();
          if (b[this.p] !== QUOTE) give('an object key is not a string');
          this.string();
          this.expect(COLON);
          this.value();
        } while (this.take(COMMA));
        this.expect(CLOSE_OBJECT);
      }
      this.depth--;
      return OBJECT;
    }
    if (this.word('null')) return NULL;
    if (this.word('true')) return TRUE;
    if (this.word('false')) return FALSE;
    // A number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    let p = this.p;
    if (b[p] === 0x2d) p++;
    const intStart = p;
    while (b[p]! >= 48 && b[p]! <= 57) p++;
    if (p === intStart || (b[intStart] === 48 && p - intStart > 1)) give(`no JSON value at byte ${this.p}`);
    if (b[p] === 0x2e) {
      const at = ++p;
      while (b[p]! >= 48 && b[p]! <= 57) p++;
      if (p === at) give('a number has no fraction digits');
    }
    if (b[p] === 0x65 || b[p] === 0x45) {
      p++;
      if (b[p] === 0x2b || b[p] === 0x2d) p++;
      const at = p;
      while (b[p]! >= 48 && b[p]! <= 57) p++;
      if (p === at) give('a number has no exponent digits');
    }
    this.p = p;
    return NUMBER;
  }

  private word(w: string): boolean {
    const b = this.b;
    for (let i = 0; i < w.length; i++) if (b[this.p + i] !== w.charCodeAt(i)) return false;
    this.p += w.length;
    return true;
  }

  /** Span of the last key {@link key} read. */
  keyStart = 0;
  keyEnd = 0;

  /** A key of an object of kind `kind`, its colon and the whitespace after: the key's field id (-1: not a standard field), its span in keyStart/keyEnd. */
  key(kind: Fields): number {
    this.ws();
    if (this.b[this.p] !== QUOTE) give('an object key is not a string');
    this.keyStart = this.p + 1;
    this.keyEnd = this.string();
    const id = fieldId(kind, this.b, this.keyStart, this.keyEnd);
    this.expect(COLON);
    this.ws();
    return id;
  }

  /** Objects the last {@link objects} read. */
  listCount = 0;

  /** An array of objects of kind `kind` at `p` (its `[`), linked as siblings: the first (-1 when none); their count in listCount. */
  objects(kind: Fields): Parsed {
    let first = -1, last = -1, count = 0;
    this.p++;
    this.deeper();
    if (!this.take(CLOSE_ARRAY)) {
      do {
        this.ws();
        if (this.b[this.p] !== OPEN_OBJECT) give(`an array of ${kind.names[0]}… objects holds something else`);
        const child = this.object(kind);
        if (last < 0) first = child;
        else slots[last + NEXT] = child;
        last = child;
        count++;
      } while (this.take(COMMA));
      this.expect(CLOSE_ARRAY);
    }
    this.depth--;
    this.listCount = count;
    return first;
  }

  /** An object of kind `kind` at `p` (after whitespace): see {@link Parsed}. Gives up on a repeated key. */
  object(kind: Fields): Parsed {
    const size = HEADER + 3 * kind.names.length;
    slots = grow(slots, slotsUsed + size);
    const o = slotsUsed;
    slotsUsed += size;
    slots.fill(0, o, o + size);
    slots[o + NEXT] = -1;
    slots[o + FIRST_OTHER] = -1;
    slots[o + LAST_OTHER] = -1;
    this.expect(OPEN_OBJECT);
    this.deeper();
    if (this.take(CLOSE_OBJECT)) {
      this.depth--;
      return o;
    }
    const b = this.b;
    const objectArrays = OBJECT_ARRAYS.get(kind);
    const stringArrays = STRING_ARRAYS.get(kind);
    do {
      const id = this.key(kind);
      const keyStart = this.keyStart, keyEnd = this.keyEnd;
      const valueStart = this.p;
      if (id < 0) {
        const valueKind = this.value();
        others = grow(others, othersUsed + OTHER);
        const e = othersUsed;
        othersUsed += OTHER;
        others[e] = -1;
        others[e + 1] = keyStart;
        others[e + 2] = keyEnd;
        others[e + 3] = valueStart;
        others[e + 4] = this.p;
        others[e + 5] = valueKind;
        if (slots[o + LAST_OTHER]! < 0) slots[o + FIRST_OTHER] = e;
        else others[slots[o + LAST_OTHER]!] = e;
        slots[o + LAST_OTHER] = e;
        continue;
      }
      const at = o + HEADER + 3 * id;
      if (slots[at] !== ABSENT) give(`field ${kind.names[id]} twice`);
      const childKind = objectArrays?.get(id);
      if (childKind && b[valueStart] === OPEN_ARRAY) {
        const first = this.objects(childKind);
        slots[at] = ARRAY;
        slots[at + 1] = first;
        slots[at + 2] = this.listCount;
      } else if (stringArrays?.has(id) && b[valueStart] === OPEN_ARRAY) {
        // A string array does not nest: its spans are contiguous.
        const first = spansUsed;
        this.p++;
        this.deeper();
        if (!this.take(CLOSE_ARRAY)) {
          do {
            this.ws();
            if (b[this.p] !== QUOTE) give(`${kind.names[id]} holds something other than strings`);
            spans = grow(spans, spansUsed + 2);
            spans[spansUsed] = this.p + 1;
            spans[spansUsed + 1] = this.string(false); // hex data, each byte checked when written
            spansUsed += 2;
          } while (this.take(COMMA));
          this.expect(CLOSE_ARRAY);
        }
        this.depth--;
        slots[at] = ARRAY;
        slots[at + 1] = first;
        slots[at + 2] = (spansUsed - first) / 2;
      } else if (b[valueStart] === QUOTE) {
        slots[at] = STRING;
        slots[at + 1] = valueStart + 1;
        slots[at + 2] = this.string(!kind.hex[id]);
      } else {
        const valueKind = this.value();
        slots[at] = valueKind;
        slots[at + 1] = valueStart;
        slots[at + 2] = this.p;
      }
    } while (this.take(COMMA));
    this.expect(CLOSE_OBJECT);
    this.depth--;
    if (slots[o + FIRST_OTHER]! >= 0) checkOtherKeys(kind, b, slots[o + FIRST_OTHER]!);
    return o;
  }
}

/** Id of the standard field of `kind` whose name is bytes `start..end` of `b`; -1 for any other key. */
function fieldId(kind: Fields, b: Buffer, start: number, end: number): number {
  const candidates = kind.byHash.get(keyHash(b, start, end));
  if (candidates === undefined) return -1;
  next: for (const { id, bytes } of candidates) {
    if (bytes.length !== end - start) continue;
    for (let i = 0; i < bytes.length; i++) if (bytes[i] !== b[start + i]) continue next;
    return id;
  }
  return -1;
}

/** Gives up unless the unknown keys from entry `first` on are plain names (kept in `extra` in their order by V8 too) and none repeats. */
function checkOtherKeys(kind: Fields, b: Buffer, first: number): void {
  for (let e = first; e >= 0; e = others[e]!) {
    const start = others[e + 1]!, end = others[e + 2]!;
    if (end === start || !KEY_FIRST[b[start]!]) give('an unknown key that is not a plain name');
    for (let i = start + 1; i < end; i++) if (!KEY_REST[b[i]!]) give('an unknown key that is not a plain name');
    if (end - start === 9 && b.toString('latin1', start, end) === '__proto__') give('a key __proto__');
    if (end - start === ABSENT_FIELDS.length && b.toString('latin1', start, end) === ABSENT_FIELDS) give(`a key ${ABSENT_FIELDS}`);
  }
  if (others[first]! < 0) return; // one unknown key (a client's usual addition): nothing to compare
  const keys = new Set<string>();
  for (let e = first; e >= 0; e = others[e]!) {
    const key = b.toString('latin1', others[e + 1]!, others[e + 2]!);
    if (keys.has(key)) give(`a key of ${kind.names[0]}'s object twice`);
    keys.add(key);
  }
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/** Largest value of the typed columns narrower than a JS safe integer, as in rows.ts. */
const INTEGER_MAX = 2_147_483_647;
const SMALLINT_MAX = 32_767;

/**
 * The value of the hex quantity in `b[start..end)` (`0x` and 1 to 13 digits, so exact as a
 * double); -1 when it has more digits (the caller then reads it as a BigInt); gives up when it is
 * not a hex quantity.
 */
function smallQuantity(b: Buffer, start: number, end: number): number {
  const length = end - start;
  if (length < 3 || b[start] !== 48 || b[start + 1] !== 0x78) give('a quantity that is not 0x hex');
  if (length > 15) {
    for (let i = start + 2; i < end; i++) if (NIBBLE[b[i]!]! < 0) give('a quantity with a digit that is not hex');
    return -1;
  }
  let n = 0;
  for (let i = start + 2; i < end; i++) {
    const d = NIBBLE[b[i]!]!;
    if (d < 0) give('a quantity with a digit that is not hex');
    n = n * 16 + d;
  }
  return n;
}

/** Base-10,000 digits of the numeric being written, least significant first (a 64-digit hex quantity has 20). */
const limbs = new Float64Array(64);
/** Hex digits read at once: 16^9 × 9,999 plus a carry stays exact in a double (below 2^53). */
const CHUNK_DIGITS = 9;
/** Hex quantities longer than this are written through a BigInt (never seen in block data: 256 bits is 64 digits). */
const LIMB_HEX_DIGITS_MAX = 64;

/**
 * Writes the hex quantity in `b[start..end)` (`0x` and at least one digit, checked) as a Postgres
 * numeric in COPY binary (ndigits, weight, sign, dscale, then base-10,000 digits, most significant
 * first, trailing zero digits left out), the bytes `writeNumeric` writes for its decimal string.
 */
function writeHexNumeric(w: BufferWriter, b: Buffer, start: number, end: number): void {
  const digits = end - start - 2;
  if (digits > LIMB_HEX_DIGITS_MAX) return writeValue(w, 'numeric', BigInt(text(b, start, end)).toString(), 'numeric');
  let n = 0;
  if (digits <= 13) {
    // Below 2^52: the value itself, then its base-10,000 digits.
    let value = 0;
    for (let i = start + 2; i < end; i++) value = value * 16 + NIBBLE[b[i]!]!;
    while (value > 0) {
      const quotient = divide(value);
      limbs[n++] = value - quotient * 10_000;
      value = quotient;
    }
  } else {
    let i = start + 2;
    let chunk = digits % CHUNK_DIGITS || CHUNK_DIGITS;
    while (i < end) {
      let carry = 0;
      for (let k = 0; k < chunk; k++) carry = carry * 16 + NIBBLE[b[i + k]!]!;
      const multiplier = chunk === CHUNK_DIGITS ? CHUNK_MULTIPLIER : 16 ** chunk;
      i += chunk;
      chunk = CHUNK_DIGITS;
      for (let l = 0; l < n; l++) {
        const x = limbs[l]! * multiplier + carry;
        carry = divide(x);
        limbs[l] = x - carry * 10_000;
      }
      while (carry > 0) {
        const quotient = divide(carry);
        limbs[n++] = carry - quotient * 10_000;
        carry = quotient;
      }
    }
  }
  let low = 0;
  while (low < n && limbs[low] === 0) low++;
  const used = n - low;
  w.room(4 + 8 + 2 * used);
  const out = w.buf;
  let o = out.writeInt32BE(8 + 2 * used, w.at);
  o = out.writeInt16BE(used, o);
  o = out.writeInt16BE(used === 0 ? 0 : n - 1, o);
  o = out.writeUInt16BE(NUMERIC_POSITIVE, o);
  o = out.writeInt16BE(0, o);
  for (let l = n - 1; l >= low; l--) o = out.writeInt16BE(limbs[l]!, o);
  w.at = o;
}

const CHUNK_MULTIPLIER = 16 ** CHUNK_DIGITS;

/** ⌊x / 10,000⌋ of an integer 0 ≤ x < 2^53, exactly (the double quotient may be off by one; `%` on doubles is slow). */
function divide(x: number): number {
  let q = Math.floor(x / 10_000);
  const r = x - q * 10_000;
  if (r < 0) q--;
  else if (r >= 10_000) q++;
  return q;
}

/**
 * A standard quantity field into a numeric column, as the general path's `quantity` then COPY:
 * NULL when absent; gives up where the general path would keep the value in `extra` (null, not a
 * string, not a hex quantity).
 */
function writeQuantity(w: BufferWriter, o: Parsed, id: number, b: Buffer): void {
  const kind = kindOf(o, id);
  if (kind === ABSENT) return w.int32(-1);
  if (kind !== STRING) give('a quantity that is not a string');
  const start = startOf(o, id), end = endOf(o, id);
  if (end - start < 3 || b[start] !== 48 || b[start + 1] !== 0x78) give('a quantity that is not 0x hex');
  for (let i = start + 2; i < end; i++) if (NIBBLE[b[i]!]! < 0) give('a quantity with a digit that is not hex');
  writeHexNumeric(w, b, start, end);
}

/** A standard quantity of a narrow column as the general path's `narrowQuantity` gives it (null when absent); gives up where it would keep the value in `extra`. */
function narrow(o: Parsed, id: number, b: Buffer, max: number): number | null {
  const kind = kindOf(o, id);
  if (kind === ABSENT) return null;
  if (kind !== STRING) give('a quantity that is not a string');
  const n = smallQuantity(b, startOf(o, id), endOf(o, id));
  if (n < 0 || n > max) give('a quantity too large for its column');
  return n;
}

/** A quantity the general path reads with `Number(BigInt(…))` (block number, log index): present, hex, at most 13 digits. */
function required(o: Parsed, id: number, b: Buffer): number {
  if (kindOf(o, id) !== STRING) give('a required quantity is missing');
  const n = smallQuantity(b, startOf(o, id), endOf(o, id));
  if (n < 0) give('a required quantity too long');
  return n;
}

/** Whether hex data in `b[start..end)` has `0x` and an even number of digits (the general path's `hex` keeps such a string as it is). */
function isEvenHex(b: Buffer, start: number, end: number): boolean {
  return (end - start) % 2 === 0 && end - start >= 2 && b[start] === 48 && b[start + 1] === 0x78;
}

/** Bytes from which hex data is decoded by Node's decoder (about 1.2 ns a byte here, against 3.5 for a loop in JavaScript, which is faster below). */
const NATIVE_HEX_BYTES = 64;
/** Writes bytea `b[start..end)` (`0x` hex data, even digits) into `w`; gives up on a digit that is not hex. */
function writeHexBytes(w: BufferWriter, b: Buffer, start: number, end: number): void {
  const length = (end - start - 2) >> 1;
  w.room(4 + length);
  const out = w.buf;
  let o = out.writeInt32BE(length, w.at);
  if (length >= NATIVE_HEX_BYTES) {
    if (decodeHex(out, b.toString('latin1', start + 2, end), o, length) !== length) give('hex data with a digit that is not hex');
    w.at = o + length;
    return;
  }
  for (let i = start + 2; i < end; i += 2) {
    const hi = NIBBLE[b[i]!]!, lo = NIBBLE[b[i + 1]!]!;
    if ((hi | lo) < 0) give('hex data with a digit that is not hex');
    out[o++] = (hi << 4) | lo;
  }
  w.at = o;
}

/** A hex-data field into a bytea column, as the general path's `hex` then COPY: NULL unless a string; gives up on odd digits or no `0x` (the general path would normalize them). */
function writeHexField(w: BufferWriter, o: Parsed, id: number, b: Buffer): void {
  if (kindOf(o, id) !== STRING) return w.int32(-1);
  const start = startOf(o, id), end = endOf(o, id);
  if (!isEvenHex(b, start, end)) give('hex data that is not 0x with even digits');
  writeHexBytes(w, b, start, end);
}

/** A hex-data field of a NOT NULL bytea column: present as a string, else give up. */
function writeRequiredHex(w: BufferWriter, o: Parsed, id: number, b: Buffer): void {
  if (kindOf(o, id) !== STRING) give('required hex data is missing');
  writeHexField(w, o, id, b);
}

/** A bytea[] column of the `count` strings whose spans start at `first` in {@link spans}, as COPY binary. */
function writeHexArray(w: BufferWriter, b: Buffer, first: number, count: number): void {
  let size = count === 0 ? 12 : 20;
  for (let k = first; k < first + 2 * count; k += 2) {
    if (!isEvenHex(b, spans[k]!, spans[k + 1]!)) give('hex data that is not 0x with even digits');
    size += 4 + ((spans[k + 1]! - spans[k]! - 2) >> 1);
  }
  w.int32(size);
  w.int32(count === 0 ? 0 : 1);
  w.int32(0);
  w.int32(BYTEA_OID);
  if (count === 0) return;
  w.int32(count);
  w.int32(1);
  for (let k = first; k < first + 2 * count; k += 2) writeHexBytes(w, b, spans[k]!, spans[k + 1]!);
}

/** Whether field `id` of `o` holds an array read as a list (of objects or strings; see {@link Parsed}). */
const isList = (o: Parsed, id: number): boolean => kindOf(o, id) === ARRAY;

/** Text of the span `[start, end)` of the body (ASCII). */
const text = (b: Buffer, start: number, end: number): string => b.toString('latin1', start, end);

/** JSON text of a value as `JSON.stringify(JSON.parse(raw))` gives it (a string without escapes and the literals as they are). */
function jsonOf(b: Buffer, kind: number, start: number, end: number): string {
  switch (kind) {
    case STRING: return `"${text(b, start, end)}"`;
    case NULL: return 'null';
    case TRUE: return 'true';
    case FALSE: return 'false';
    default: {
      const raw = text(b, start, end);
      return raw === '[]' ? raw : JSON.stringify(JSON.parse(raw));
    }
  }
}

/**
 * The `extra` jsonb of object `o` as the general path's `extrasOf` then `json` give it: its
 * unknown fields in order, then `$absent` with the `defaulted` fields it lacks; null when neither.
 */
function extraOf(o: Parsed, b: Buffer, defaulted: readonly number[], names: readonly string[]): string | null {
  let json = '';
  for (let e = slots[o + FIRST_OTHER]!; e >= 0; e = others[e]!) {
    // A string value's span includes its quotes here (value() leaves p after the closing quote).
    const kind = others[e + 5]!;
    const value = kind === STRING ? text(b, others[e + 3]!, others[e + 4]!) : jsonOf(b, kind, others[e + 3]!, others[e + 4]!);
    json += `${json ? ',' : ''}"${text(b, others[e + 1]!, others[e + 2]!)}":${value}`;
  }
  let absent = '';
  for (const id of defaulted) if (kindOf(o, id) === ABSENT) absent += `${absent ? ',' : ''}"${names[id]}"`;
  if (absent) json += `${json ? ',' : ''}"${ABSENT_FIELDS}":[${absent}]`;
  return json ? `{${json}}` : null;
}

/** Writes a nullable value of a non-bytea column with the general encoder. */
function put(w: BufferWriter, type: string, value: unknown, column: string): void {
  if (value === null) w.int32(-1);
  else writeValue(w, type, value, column);
}

/** Whether the spans `[a, aEnd)` and `[c, cEnd)` of `b` hold the same bytes. */
function same(b: Buffer, a: number, aEnd: number, c: number, cEnd: number): boolean {
  if (aEnd - a !== cEnd - c) return false;
  for (let i = 0; i < aEnd - a; i++) if (b[a + i] !== b[c + i]) return false;
  return true;
}

/** Whether the spans hold the same text, ignoring ASCII case (the general path compares hashes and addresses lower-cased). */
function sameIgnoringCase(b: Buffer, a: number, aEnd: number, c: number, cEnd: number): boolean {
  if (aEnd - a !== cEnd - c) return false;
  for (let i = 0; i < aEnd - a; i++) {
    const x = b[a + i]!, y = b[c + i]!;
    if (x !== y && (x | 0x20) !== (y | 0x20)) return false;
    if (x !== y && !((x | 0x20) >= 97 && (x | 0x20) <= 122)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Columns, in the order the general path's rows have them (Object.keys of its row objects).
// ---------------------------------------------------------------------------------------------

/** Columns of each table as `toBatchRows` makes them, with the Postgres types the transcoder writes. */
export const TRANSCODED_COLUMNS: Readonly<Record<BatchTable, readonly (readonly [string, string])[]>> = {
  blocks: [['chain_id', 'int8'], ['number', 'int8'], ['hash', 'bytea'], ['parent_hash', 'bytea'], ['timestamp', 'int8'], ['miner', 'bytea'],
    ['gas_limit', 'numeric'], ['gas_used', 'numeric'], ['base_fee_per_gas', 'numeric'], ['difficulty', 'numeric'], ['total_difficulty', 'numeric'],
    ['size', 'int8'], ['nonce', 'bytea'], ['mix_hash', 'bytea'], ['sha3_uncles', 'bytea'], ['logs_bloom', 'bytea'], ['transactions_root', 'bytea'],
    ['state_root', 'bytea'], ['receipts_root', 'bytea'], ['extra_data', 'bytea'], ['withdrawals_root', 'bytea'], ['blob_gas_used', 'numeric'],
    ['excess_blob_gas', 'numeric'], ['parent_beacon_block_root', 'bytea'], ['requests_hash', 'bytea'], ['uncles', '_bytea'],
    ['transaction_count', 'int4'], ['extra', 'jsonb']],
  transactions: [['chain_id', 'int8'], ['block_number', 'int8'], ['block_hash', 'bytea'], ['transaction_index', 'int8'], ['hash', 'bytea'],
    ['type', 'int4'], ['nonce', 'numeric'], ['from_address', 'bytea'], ['to_address', 'bytea'], ['value', 'numeric'], ['gas', 'numeric'],
    ['gas_price', 'numeric'], ['max_fee_per_gas', 'numeric'], ['max_priority_fee_per_gas', 'numeric'], ['max_fee_per_blob_gas', 'numeric'],
    ['blob_versioned_hashes', '_bytea'], ['input', 'bytea'], ['signed_chain_id', 'numeric'], ['v', 'numeric'], ['r', 'numeric'], ['s', 'numeric'],
    ['y_parity', 'int2'], ['access_list', 'jsonb'], ['authorization_list', 'jsonb'], ['extra', 'jsonb'], ['status', 'int2'], ['root', 'bytea'],
    ['gas_used', 'numeric'], ['cumulative_gas_used', 'numeric'], ['effective_gas_price', 'numeric'], ['contract_address', 'bytea'],
    ['receipt_logs_bloom', 'bytea'], ['blob_gas_used', 'numeric'], ['blob_gas_price', 'numeric'], ['receipt_type', 'int4'],
    ['receipt_extra', 'jsonb'], ['log_count', 'int4'], ['in_block_list', 'bool']],
  logs: [['chain_id', 'int8'], ['block_number', 'int8'], ['block_hash', 'bytea'], ['log_index', 'int8'], ['transaction_hash', 'bytea'],
    ['transaction_index', 'int8'], ['address', 'bytea'], ['topic0', 'bytea'], ['topic1', 'bytea'], ['topic2', 'bytea'], ['topic3', 'bytea'],
    ['data', 'bytea'], ['extra', 'jsonb']],
  withdrawals: [['chain_id', 'int8'], ['block_number', 'int8'], ['block_hash', 'bytea'], ['position', 'int4'], ['index', 'numeric'],
    ['validator_index', 'numeric'], ['address', 'bytea'], ['amount', 'numeric'], ['extra', 'jsonb']],
};
/**
 * {@link TRANSCODED_COLUMNS} as the catalog gives them (`ColumnTypes`: table → column → type): the
 * column types for which the transcoder takes an answer, for callers without a database (the
 * decode benchmark, tests).
 */
export const TRANSCODED_TYPES: ColumnTypes = Object.fromEntries(BATCH_TABLES.map((t) => [t, Object.fromEntries(TRANSCODED_COLUMNS[t])]));
const COLUMN_NAMES = Object.fromEntries(BATCH_TABLES.map((t) => [t, TRANSCODED_COLUMNS[t].map(([c]) => c)])) as Record<BatchTable, string[]>;

/** Whether the catalog gives every column the transcoder writes the type it writes (checked once per `types` object). */
const typesChecked = new WeakMap<ColumnTypes, boolean>();
function typesMatch(types: ColumnTypes): boolean {
  let ok = typesChecked.get(types);
  if (ok === undefined) {
    ok = BATCH_TABLES.every((t) => TRANSCODED_COLUMNS[t].every(([column, type]) => types[t]?.[column] === type));
    typesChecked.set(types, ok);
  }
  return ok;
}

const BLOCK_DEFAULTED = [B.uncles!], BLOCK_DEFAULTED_WITH_WITHDRAWALS = [B.uncles!, B.withdrawals!];
const TX_DEFAULTED = [T.blockHash!, T.blockNumber!, T.transactionIndex!, T.to!];
const RECEIPT_DEFAULTED = [R.transactionHash!, R.transactionIndex!, R.blockHash!, R.blockNumber!, R.from!, R.to!, R.contractAddress!, R.logs!];
const LOG_DEFAULTED = [L.blockNumber!, L.blockHash!, L.transactionHash!, L.transactionIndex!, L.logIndex!, L.removed!];
/** `0x` then zeros only (a zero logs bloom). */
function isZeroBloom(b: Buffer, start: number, end: number): boolean {
  if (end - start < 2 || b[start] !== 48 || b[start + 1] !== 0x78) return false;
  for (let i = start + 2; i < end; i++) if (b[i] !== 48) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// The answer
// ---------------------------------------------------------------------------------------------

/** Which transcoder {@link transcodeBlocksAnswer} runs: `auto` the native one (when loaded) then, if it gives up, the JavaScript one; `native` or `javascript` only that one (tests). */
export type TranscoderEngine = 'auto' | 'native' | 'javascript';

/** `meta` for the native transcoder, kept from answer to answer (grown when an answer has more blocks). */
let meta = new Float64Array(10 + 5 * 64);

/**
 * Where the native transcoder puts an answer's tuples: bytes `start…start + length` of `memory`
 * for them, or null (then they get an ArrayBuffer of their own).
 */
export type TupleDestination = (length: number) => { memory: ArrayBuffer | SharedArrayBuffer; start: number } | null;

let tupleDestination: TupleDestination | null = null;

/**
 * Runs `decode` (synchronous) with the native transcoder putting the tuples where `destination`
 * says (the decode thread: its tuple arena, src/decode/arena.ts), then goes back to a buffer of
 * their own per answer. Returns what `decode` returned. @throws what `decode` throws.
 */
export function withTupleDestination<T>(destination: TupleDestination, decode: () => T): T {
  tupleDestination = destination;
  try {
    return decode();
  } finally {
    tupleDestination = null;
  }
}

/** The native transcoder's answer for blocks `numbers`, as {@link transcodeBlocksAnswer} gives it, or why it gave up. */
function nativeTranscode(native: NativeTranscode, body: Buffer, numbers: readonly number[], chainId: number): DecodedAnswer | string {
  const n = numbers.length;
  if (meta.length < 10 + 5 * n) meta = new Float64Array(10 + 5 * n);
  meta[0] = chainId;
  meta[1] = n;
  meta.set(numbers, 2);
  const length = native(body, meta, true);
  if (typeof length === 'string') return length;
  // Copied once, from the addon's scratch to where they are written from.
  const spot = length > 0 ? tupleDestination?.(length) ?? null : null;
  const tuples = spot ? spot.memory : new ArrayBuffer(length);
  const base = spot ? spot.start : 0;
  native.take(new Uint8Array(tuples, base, length));
  const o = 2 + n;
  const counts = { blocks: 0, transactions: 0, logs: 0, withdrawals: 0 };
  const tables: EncodedTable[] = [];
  let at = base;
  BATCH_TABLES.forEach((table, t) => {
    counts[table] = meta[o + 4 + t]!;
    const bytes = meta[o + t]!;
    if (counts[table] > 0) tables.push({ table, columns: COLUMN_NAMES[table], start: at, end: at + bytes });
    at += bytes;
  });
  const decoded: DecodedEntry[] = numbers.map((number, k) => {
    const s = o + 8 + 4 * k;
    return { index: 2 * k, number, hash: text(body, meta[s]!, meta[s + 1]!), parentHash: text(body, meta[s + 2]!, meta[s + 3]!) };
  });
  const outcomes: RpcOutcome[] = Array.from({ length: 2 * n }, () => ({ ok: true, result: null }));
  return { ok: true, outcomes, decoded, rows: { tuples, tables, rows: {}, counts } };
}

/**
 * The answer `body` to `requests` (ids 0..n−1), decoded as `decodeBlocksAnswer` would decode it
 * (outcomes all null results, every block in `decoded` and valid, its rows encoded for `types`),
 * or null when the answer is not of the shape the transcoder takes (see the file's comment): the
 * caller then runs the general path. `onGiveUp` hears why (for tests and profiling). Pure; never
 * throws but on a bug.
 */
export function transcodeBlocksAnswer(
  body: Buffer,
  requests: readonly RpcRequest[],
  chainId: number,
  types: ColumnTypes,
  onGiveUp?: (why: string) => void,
  engine: TranscoderEngine = 'auto',
): DecodedAnswer | null {
  const refuse = (why: string): null => {
    onGiveUp?.(why);
    return null;
  };
  if (requests.length === 0 || requests.length % 2 !== 0) return refuse('requests that are not pairs');
  if (!typesMatch(types)) return refuse('column types other than the transcoder writes');
  const numbers: number[] = [];
  for (let i = 0; i < requests.length; i += 2) {
    const blockCall = requests[i]!, receiptsCall = requests[i + 1]!;
    if (blockCall.method !== 'eth_getBlockByNumber' || receiptsCall.method !== 'eth_getBlockReceipts' || blockCall.params[0] !== receiptsCall.params[0] || blockCall.params[1] !== true) {
      return refuse('requests other than eth_getBlockByNumber(n, true) and eth_getBlockReceipts(n)');
    }
    const param = blockCall.params[0];
    if (typeof param !== 'string' || !/^0x[0-9a-fA-F]{1,13}$/.test(param)) return refuse('a block number that is not a hex quantity');
    numbers.push(parseInt(param, 16));
  }
  const native = engine === 'javascript' ? null : nativeTranscoder();
  if (native) {
    const answer = nativeTranscode(native, body, numbers, chainId);
    if (typeof answer !== 'string') return answer;
    if (engine === 'native') return refuse(answer);
  } else if (engine === 'native') {
    throw new Error('transcodeBlocksAnswer: the native transcoder is not loaded');
  }
  // The native transcoder checks that the strings it reads are ASCII as it reads them (the only
  // place a byte over 0x7f can be in an answer it takes); the JavaScript one needs the whole body
  // checked first.
  if (!isAscii(body)) return refuse('a body that is not ASCII');
  try {
    return transcode(new Scanner(body), requests.length, numbers, chainId);
  } catch (err) {
    if (err instanceof NotTaken) return refuse(err.why);
    throw err;
  }
}

function transcode(s: Scanner, count: number, numbers: readonly number[], chainId: number): DecodedAnswer {
  const b = s.b;
  slotsUsed = 0;
  othersUsed = 0;
  spansUsed = 0;
  // The batch: an array of {jsonrpc, id, result}, each id once. Per block: its record, and its receipts' first record and count.
  const half = count / 2;
  const blocks = new Int32Array(half).fill(-1);
  const firstReceipt = new Int32Array(half).fill(-1);
  const receiptCount = new Int32Array(half).fill(-1);
  const seen = new Uint8Array(count);
  /** Parses the result of request `id` at the scanner's position: a block (even ids) or its receipts. */
  const result = (id: number): void => {
    s.ws();
    const k = id >> 1;
    if (id % 2 === 0) {
      if (b[s.p] !== OPEN_OBJECT) give('a block that is not an object');
      blocks[k] = s.object(BLOCK);
      return;
    }
    if (b[s.p] !== OPEN_ARRAY) give('receipts that are not an array');
    firstReceipt[k] = s.objects(RECEIPT);
    receiptCount[k] = s.listCount;
  };
  s.expect(OPEN_ARRAY);
  if (s.take(CLOSE_ARRAY)) give('an empty batch');
  do {
    s.expect(OPEN_OBJECT);
    let id = -1;
    let resultAt = -1;
    let resultEnd = -1;
    let parsed = false;
    do {
      const field = s.key(ITEM);
      if (field === I.error) give('an item with an error');
      if (field === I.id) {
        const start = s.p;
        if (s.value() !== NUMBER) give('an id that is not a number');
        if (id >= 0) give('an item with two ids');
        const digits = text(b, start, s.p);
        if (!/^(0|[1-9][0-9]{0,8})$/.test(digits)) give('an id that is not a small integer');
        id = Number(digits);
      } else if (field === I.result) {
        if (resultAt >= 0) give('an item with two results');
        resultAt = s.p;
        parsed = id >= 0 && id < count && !seen[id];
        if (parsed) result(id); // the usual order (jsonrpc, id, result): parsed where it lies
        else s.value();
        resultEnd = s.p;
      } else {
        s.value();
      }
    } while (s.take(COMMA));
    s.expect(CLOSE_OBJECT);
    if (id < 0 || id >= count || seen[id]) give('an id missing, unknown or repeated');
    if (resultAt < 0) give('an item without result');
    seen[id] = 1;
    if (!parsed) {
      // The id came after the result: parse the result now where it lies, then come back.
      const after = s.p;
      s.p = resultAt;
      result(id);
      if (s.p !== resultEnd) give('a result parsed to a different end');
      s.p = after;
    }
  } while (s.take(COMMA));
  s.expect(CLOSE_ARRAY);
  s.ws();
  if (s.p !== b.length) give('bytes after the batch');
  if (seen.includes(0)) give('an answer without an item for every request');

  const writers = scratchWriters;
  for (const table of BATCH_TABLES) writers[table].reset();
  const counts = { blocks: 0, transactions: 0, logs: 0, withdrawals: 0 };
  const decoded: DecodedEntry[] = [];
  for (let k = 0; k < half; k++) {
    const entry = writeBlock(writers, counts, b, blocks[k]!, firstReceipt[k]!, receiptCount[k]!, numbers[k]!, chainId);
    decoded.push({ index: 2 * k, ...entry });
  }
  const outcomes: RpcOutcome[] = Array.from({ length: count }, () => ({ ok: true, result: null }));
  return { ok: true, outcomes, decoded, rows: joinTables(writers, counts) };
}

/** Checks one block with its receipts as validateBlock/validateReceipts would pass them, and writes its rows. */
function writeBlock(
  writers: Record<BatchTable, ScratchWriter>,
  counts: Record<BatchTable, number>,
  b: Buffer,
  block: Parsed,
  firstReceipt: Parsed,
  receiptCount: number,
  requested: number,
  chainId: number,
): { number: number; hash: string; parentHash: string } {
  for (const id of [B.number!, B.hash!, B.parentHash!, B.timestamp!, B.logsBloom!]) if (kindOf(block, id) !== STRING) give(`block field ${BLOCK.names[id]} missing`);
  const number = required(block, B.number!, b);
  if (number !== requested) give('a block other than the one asked');
  if (!isList(block, B.transactions!)) give('transactions missing or not objects');
  const firstTx = startOf(block, B.transactions!), txCount = endOf(block, B.transactions!);
  if (receiptCount !== txCount) give('not one receipt per transaction');
  const hashStart = startOf(block, B.hash!), hashEnd = endOf(block, B.hash!);
  const numberStart = startOf(block, B.number!), numberEnd = endOf(block, B.number!);
  if (!isEvenHex(b, hashStart, hashEnd)) give('a block hash that is not even hex');
  // Checks first: the general path refuses or keeps aside what these give up on.
  let logCount = 0;
  let previousTxIndex = -1, previousLogIndex = -1;
  let bloomWithoutLogs = false; // a receipt without logs whose own logsBloom is not zero
  for (let tx = firstTx, receipt = firstReceipt; tx >= 0; tx = slots[tx + NEXT]!, receipt = slots[receipt + NEXT]!) {
    if (kindOf(tx, T.hash!) !== STRING || kindOf(receipt, R.transactionHash!) !== STRING) give('a transaction or receipt without a hash');
    if (!same(b, startOf(tx, T.hash!), endOf(tx, T.hash!), startOf(receipt, R.transactionHash!), endOf(receipt, R.transactionHash!))) give('receipts not in transaction order');
    if (kindOf(tx, T.transactionIndex!) !== STRING || kindOf(receipt, R.transactionIndex!) !== STRING
      || !same(b, startOf(tx, T.transactionIndex!), endOf(tx, T.transactionIndex!), startOf(receipt, R.transactionIndex!), endOf(receipt, R.transactionIndex!))) {
      give('a receipt whose transactionIndex differs');
    }
    const txIndex = required(tx, T.transactionIndex!, b);
    if (txIndex <= previousTxIndex) give('transactions not in transactionIndex order');
    previousTxIndex = txIndex;
    const txBlockHash = kindOf(tx, T.blockHash!);
    if (txBlockHash !== ABSENT && txBlockHash !== NULL && !(txBlockHash === STRING && same(b, startOf(tx, T.blockHash!), endOf(tx, T.blockHash!), hashStart, hashEnd))) give('a transaction of another block');
    if (kindOf(receipt, R.blockHash!) !== STRING || !same(b, startOf(receipt, R.blockHash!), endOf(receipt, R.blockHash!), hashStart, hashEnd)) give('a receipt of another block');
    const receiptNumber = kindOf(receipt, R.blockNumber!);
    if (receiptNumber !== ABSENT && !(receiptNumber === STRING && same(b, startOf(receipt, R.blockNumber!), endOf(receipt, R.blockNumber!), numberStart, numberEnd))) give('a receipt with another block number');
    if (!isList(receipt, R.logs!)) give('a receipt without a logs array of objects');
    for (let log = startOf(receipt, R.logs!); log >= 0; log = slots[log + NEXT]!) {
      if (kindOf(log, L.blockHash!) !== STRING || !same(b, startOf(log, L.blockHash!), endOf(log, L.blockHash!), hashStart, hashEnd)) give('a log of another block');
      if ((kindOf(log, L.transactionHash!) === STRING && !same(b, startOf(log, L.transactionHash!), endOf(log, L.transactionHash!), startOf(receipt, R.transactionHash!), endOf(receipt, R.transactionHash!)))
        || (kindOf(log, L.transactionIndex!) === STRING && !same(b, startOf(log, L.transactionIndex!), endOf(log, L.transactionIndex!), startOf(receipt, R.transactionIndex!), endOf(receipt, R.transactionIndex!)))) {
        give('a log of another transaction');
      }
      const logIndex = required(log, L.logIndex!, b);
      if (logIndex <= previousLogIndex) give('log indexes that do not rise');
      previousLogIndex = logIndex;
    }
    if (endOf(receipt, R.logs!) === 0 && kindOf(receipt, R.logsBloom!) === STRING && !isZeroBloom(b, startOf(receipt, R.logsBloom!), endOf(receipt, R.logsBloom!))) bloomWithoutLogs = true;
    logCount += endOf(receipt, R.logs!);
  }
  if (logCount === 0 && txCount > 0 && !isZeroBloom(b, startOf(block, B.logsBloom!), endOf(block, B.logsBloom!))) give('a logs bloom without logs');
  if (bloomWithoutLogs) give('a receipt\'s logs bloom without logs');

  // blocks
  const w = writers.blocks;
  const withdrawalsRoot = kindOf(block, B.withdrawalsRoot!) === STRING;
  const uncles = kindOf(block, B.uncles!);
  if (uncles !== ABSENT && uncles !== NULL && uncles !== ARRAY) give('uncles that are not an array of strings');
  const withdrawals = kindOf(block, B.withdrawals!);
  if (withdrawals !== ABSENT && withdrawals !== NULL && withdrawals !== ARRAY) give('withdrawals that are not an array of objects');
  const timestamp = required(block, B.timestamp!, b);
  const extra = extraOf(block, b, withdrawalsRoot ? BLOCK_DEFAULTED_WITH_WITHDRAWALS : BLOCK_DEFAULTED, BLOCK.names);
  w.int16(TRANSCODED_COLUMNS.blocks.length);
  writeValue(w, 'int8', chainId, 'chain_id');
  writeValue(w, 'int8', number, 'number');
  writeHexBytes(w, b, hashStart, hashEnd);
  writeRequiredHex(w, block, B.parentHash!, b);
  writeValue(w, 'int8', timestamp, 'timestamp');
  writeHexField(w, block, B.miner!, b);
  writeQuantity(w, block, B.gasLimit!, b);
  writeQuantity(w, block, B.gasUsed!, b);
  writeQuantity(w, block, B.baseFeePerGas!, b);
  writeQuantity(w, block, B.difficulty!, b);
  writeQuantity(w, block, B.totalDifficulty!, b);
  put(w, 'int8', narrow(block, B.size!, b, Number.MAX_SAFE_INTEGER), 'size');
  writeHexField(w, block, B.nonce!, b);
  writeHexField(w, block, B.mixHash!, b);
  writeHexField(w, block, B.sha3Uncles!, b);
  writeRequiredHex(w, block, B.logsBloom!, b);
  writeHexField(w, block, B.transactionsRoot!, b);
  writeHexField(w, block, B.stateRoot!, b);
  writeHexField(w, block, B.receiptsRoot!, b);
  writeHexField(w, block, B.extraData!, b);
  writeHexField(w, block, B.withdrawalsRoot!, b);
  writeQuantity(w, block, B.blobGasUsed!, b);
  writeQuantity(w, block, B.excessBlobGas!, b);
  writeHexField(w, block, B.parentBeaconBlockRoot!, b);
  writeHexField(w, block, B.requestsHash!, b);
  if (uncles === ARRAY) writeHexArray(w, b, startOf(block, B.uncles!), endOf(block, B.uncles!));
  else writeHexArray(w, b, 0, 0);
  writeValue(w, 'int4', txCount, 'transaction_count');
  put(w, 'jsonb', extra, 'extra');
  counts.blocks++;

  // transactions, each with its receipt's columns
  for (let tx = firstTx, receipt = firstReceipt, i = 0; tx >= 0; tx = slots[tx + NEXT]!, receipt = slots[receipt + NEXT]!, i++) {
    writeTransaction(writers.transactions, b, tx, receipt, i, chainId, number, hashStart, hashEnd);
  }
  counts.transactions += txCount;
  // logs, receipt by receipt
  for (let receipt = firstReceipt; receipt >= 0; receipt = slots[receipt + NEXT]!) {
    for (let log = startOf(receipt, R.logs!); log >= 0; log = slots[log + NEXT]!) writeLog(writers.logs, b, log, chainId, number, hashStart, hashEnd);
  }
  counts.logs += logCount;
  // withdrawals
  if (withdrawals === ARRAY) {
    for (let wd = startOf(block, B.withdrawals!), position = 0; wd >= 0; wd = slots[wd + NEXT]!, position++) {
      writeWithdrawal(writers.withdrawals, b, wd, position, chainId, number, hashStart, hashEnd);
    }
    counts.withdrawals += endOf(block, B.withdrawals!);
  }
  return { number, hash: text(b, hashStart, hashEnd), parentHash: text(b, startOf(block, B.parentHash!), endOf(block, B.parentHash!)) };
}

/** The start every row of `table` but blocks' has: its column count, chain_id, block_number and block_hash. */
function writeRowStart(w: BufferWriter, table: BatchTable, chainId: number, blockNumber: number, b: Buffer, hashStart: number, hashEnd: number): void {
  w.int16(TRANSCODED_COLUMNS[table].length);
  writeValue(w, 'int8', chainId, 'chain_id');
  writeValue(w, 'int8', blockNumber, 'block_number');
  writeHexBytes(w, b, hashStart, hashEnd);
}

function writeTransaction(w: BufferWriter, b: Buffer, tx: Parsed, receipt: Parsed, position: number, chainId: number, blockNumber: number, hashStart: number, hashEnd: number): void {
  const index = narrow(tx, T.transactionIndex!, b, Number.MAX_SAFE_INTEGER) ?? position;
  const type = narrow(tx, T.type!, b, INTEGER_MAX);
  const yParity = narrow(tx, T.yParity!, b, SMALLINT_MAX);
  const list = (id: number) => (kindOf(tx, id) === ABSENT ? null : jsonOf(b, kindOf(tx, id), startOf(tx, id), endOf(tx, id)));
  const accessList = list(T.accessList!), authorizationList = list(T.authorizationList!);
  const extra = extraOf(tx, b, TX_DEFAULTED, TX.names);
  // The receipt's columns (receiptColumns): its own from/to are kept only where they differ from the transaction's.
  for (const [rid, tid] of FROM_TO) {
    const rk = kindOf(receipt, rid);
    if (rk === ABSENT) continue;
    const tk = kindOf(tx, tid);
    const bothNull = rk === NULL && (tk === NULL || tk === ABSENT);
    const bothEqual = rk === STRING && tk === STRING && sameIgnoringCase(b, startOf(receipt, rid), endOf(receipt, rid), startOf(tx, tid), endOf(tx, tid));
    if (!bothNull && !bothEqual) give('a receipt whose from/to differs from its transaction');
  }
  const status = narrow(receipt, R.status!, b, SMALLINT_MAX);
  const receiptType = narrow(receipt, R.type!, b, INTEGER_MAX);
  const receiptExtra = extraOf(receipt, b, RECEIPT_DEFAULTED, RECEIPT.names);

  writeRowStart(w, 'transactions', chainId, blockNumber, b, hashStart, hashEnd);
  writeValue(w, 'int8', index, 'transaction_index');
  writeRequiredHex(w, tx, T.hash!, b);
  put(w, 'int4', type, 'type');
  writeQuantity(w, tx, T.nonce!, b);
  writeHexField(w, tx, T.from!, b);
  writeHexField(w, tx, T.to!, b);
  writeQuantity(w, tx, T.value!, b);
  writeQuantity(w, tx, T.gas!, b);
  writeQuantity(w, tx, T.gasPrice!, b);
  writeQuantity(w, tx, T.maxFeePerGas!, b);
  writeQuantity(w, tx, T.maxPriorityFeePerGas!, b);
  writeQuantity(w, tx, T.maxFeePerBlobGas!, b);
  if (kindOf(tx, T.blobVersionedHashes!) === ARRAY) writeHexArray(w, b, startOf(tx, T.blobVersionedHashes!), endOf(tx, T.blobVersionedHashes!));
  else w.int32(-1); // Array.isArray(…) ? … : null
  writeHexField(w, tx, T.input!, b);
  writeQuantity(w, tx, T.chainId!, b);
  writeQuantity(w, tx, T.v!, b);
  writeQuantity(w, tx, T.r!, b);
  writeQuantity(w, tx, T.s!, b);
  put(w, 'int2', yParity, 'y_parity');
  put(w, 'jsonb', accessList, 'access_list');
  put(w, 'jsonb', authorizationList, 'authorization_list');
  put(w, 'jsonb', extra, 'extra');
  put(w, 'int2', status, 'status');
  writeHexField(w, receipt, R.root!, b);
  writeQuantity(w, receipt, R.gasUsed!, b);
  writeQuantity(w, receipt, R.cumulativeGasUsed!, b);
  writeQuantity(w, receipt, R.effectiveGasPrice!, b);
  writeHexField(w, receipt, R.contractAddress!, b);
  writeHexField(w, receipt, R.logsBloom!, b);
  writeQuantity(w, receipt, R.blobGasUsed!, b);
  writeQuantity(w, receipt, R.blobGasPrice!, b);
  put(w, 'int4', receiptType, 'receipt_type');
  put(w, 'jsonb', receiptExtra, 'receipt_extra');
  writeValue(w, 'int4', endOf(receipt, R.logs!), 'log_count');
  writeValue(w, 'bool', true, 'in_block_list');
}

const FROM_TO = [[R.from!, T.from!], [R.to!, T.to!]] as const;

function writeLog(w: BufferWriter, b: Buffer, log: Parsed, chainId: number, blockNumber: number, hashStart: number, hashEnd: number): void {
  if (kindOf(log, L.removed!) === TRUE) give('a removed log');
  const topicsKind = kindOf(log, L.topics!);
  if (topicsKind !== ABSENT && topicsKind !== NULL && topicsKind !== ARRAY) give('topics that are not an array of strings');
  const firstTopic = topicsKind === ARRAY ? startOf(log, L.topics!) : 0;
  const topicCount = topicsKind === ARRAY ? endOf(log, L.topics!) : 0;
  if (topicCount > 4) give('more than 4 topics');
  const logIndex = required(log, L.logIndex!, b);
  const transactionIndex = required(log, L.transactionIndex!, b);
  if (kindOf(log, L.transactionHash!) !== STRING || kindOf(log, L.address!) !== STRING) give('a log without transactionHash or address');
  const extra = extraOf(log, b, LOG_DEFAULTED, LOG.names);
  writeRowStart(w, 'logs', chainId, blockNumber, b, hashStart, hashEnd);
  writeValue(w, 'int8', logIndex, 'log_index');
  writeRequiredHex(w, log, L.transactionHash!, b);
  writeValue(w, 'int8', transactionIndex, 'transaction_index');
  writeRequiredHex(w, log, L.address!, b);
  for (let t = 0; t < 4; t++) {
    if (t < topicCount) {
      const start = spans[firstTopic + 2 * t]!, end = spans[firstTopic + 2 * t + 1]!;
      if (!isEvenHex(b, start, end)) give('a topic that is not even hex');
      writeHexBytes(w, b, start, end);
    } else {
      w.int32(-1);
    }
  }
  if (kindOf(log, L.data!) === STRING) writeHexField(w, log, L.data!, b);
  else w.int32(0); // hex(log.data) ?? '0x': no bytes
  put(w, 'jsonb', extra, 'extra');
}

function writeWithdrawal(w: BufferWriter, b: Buffer, wd: Parsed, position: number, chainId: number, blockNumber: number, hashStart: number, hashEnd: number): void {
  // BigInt(…).toString(): present and hex here (BigInt would also take decimal; given up on).
  for (const id of [W.index!, W.validatorIndex!, W.amount!]) if (kindOf(wd, id) !== STRING) give('a withdrawal quantity missing');
  if (kindOf(wd, W.address!) !== STRING) give('a withdrawal without address');
  const extra = extraOf(wd, b, [], WITHDRAWAL.names);
  writeRowStart(w, 'withdrawals', chainId, blockNumber, b, hashStart, hashEnd);
  writeValue(w, 'int4', position, 'position');
  writeQuantity(w, wd, W.index!, b);
  writeQuantity(w, wd, W.validatorIndex!, b);
  writeRequiredHex(w, wd, W.address!, b);
  writeQuantity(w, wd, W.amount!, b);
  put(w, 'jsonb', extra, 'extra');
}

/** The tables' tuples in one buffer, in BATCH_TABLES order (those with rows), as `encodeRows` gives them. */
function joinTables(writers: Record<BatchTable, ScratchWriter>, counts: Record<BatchTable, number>): EncodedRows {
  const total = BATCH_TABLES.reduce((sum, t) => sum + writers[t].at, 0);
  const tuples = Buffer.allocUnsafeSlow(total);
  const tables: EncodedTable[] = [];
  let at = 0;
  for (const table of BATCH_TABLES) {
    if (counts[table] === 0) continue;
    const start = at;
    at += writers[table].buf.copy(tuples, at, 0, writers[table].at);
    tables.push({ table, columns: COLUMN_NAMES[table], start, end: at });
  }
  return { tuples: tuples.buffer as ArrayBuffer, tables, rows: {}, counts };
}

/**
 * A BufferWriter whose one buffer grows in place (doubling) and is kept from answer to answer:
 * the tables' tuples are copied out into the answer's own buffer anyway, so these are scratch.
 * Why: fresh 64 KiB–1 MiB buffers per answer are fresh mappings under the image's 128 KiB mmap
 * threshold, whose pages fault in at the first write, and garbage for V8 to track.
 */
class ScratchWriter extends BufferWriter {
  override room(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const larger = Buffer.allocUnsafeSlow(Math.max(2 * this.buf.length, this.at + bytes));
    this.buf.copy(larger, 0, 0, this.at);
    this.buf = larger;
  }
  reset(): void {
    this.at = 0;
  }
}

/** The tables' scratch writers, one set for the thread (the transcoder runs one answer at a time, synchronously). */
const scratchWriters: Record<BatchTable, ScratchWriter> = {
  blocks: new ScratchWriter(), transactions: new ScratchWriter(), logs: new ScratchWriter(), withdrawals: new ScratchWriter(),
};
