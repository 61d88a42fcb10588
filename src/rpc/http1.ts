/**
 * A small HTTP/1.1 client (RFC 9112) for the JSON-RPC POSTs of `postBatch` to `http:` endpoints,
 * which reads every answer into memory it reuses instead of fresh buffers.
 *
 * Why not fetch (undici): a mainnet block's answer is about 0.67 MB, and fetch reads it as a fresh
 * ArrayBuffer per socket read plus web-stream objects around each. V8 counts fresh ArrayBuffer
 * memory against the heap's growth limit, so the decode thread, whose own heap is 8 MB, ran a full
 * collection every 20 or so blocks (≈150 per 3,000 blocks) and V8's collector threads took about
 * 1.8 ms per block. Here each socket reads into memory this thread reuses (`net.Socket`'s
 * `onread`): a `content-length` body straight into its buffer (but for its last 64 KiB), taken
 * from a small per-thread free list and given back by `release()`, everything else into one read
 * buffer per thread (a chunked body is then copied into its buffer). In the mainnet bench the
 * worker's CPU per block fell from 4.4 to 2.6 ms (session 16, README). undici cannot read into a
 * caller's buffer (it takes socket data through `read()`), and `node:http` copies each body chunk
 * into a new Buffer.
 *
 * What it does: one request at a time per connection (no pipelining), connections kept alive per
 * origin and closed after {@link IDLE_MS} idle, `content-length`, `chunked` and read-until-close
 * bodies, 1xx answers skipped, `accept-encoding: identity` asked and any other content coding
 * refused. A request on a kept-alive connection that the server closed before answering is sent
 * again once on a new connection (the stale keep-alive race; JSON-RPC reads are safe to repeat).
 * What it does not: TLS (`https:` endpoints go through fetch), proxies, redirects, compression.
 * State is per thread (module state), as the decode threads each load this module.
 */
import net from 'node:net';

/** The `user-agent` sent (some gateways refuse requests without one). */
const USER_AGENT = 'evm-temporal-indexer';
/** How long a kept-alive connection may sit idle before it is closed, in ms (undici's default is 4 s). */
const IDLE_MS = 4_000;
/** The socket read buffer shared by every connection of this thread, in bytes (Node reads 64 KiB by default). */
const READ_BYTES = 256 * 1024;
/** Largest header block accepted, in bytes (Node's default `maxHeaderSize` is 16 KiB). */
const MAX_HEAD_BYTES = 64 * 1024;
/** Bytes of body buffers kept for reuse per thread, in all: the answers read at once (one answer of blocks is a few MiB). */
const SPARE_BYTES = 16 * 2 ** 20;
/**
 * The end of a `content-length` body read through the read buffer, in bytes, not in place (see
 * `Parser.bodyRoom`): a read into the body's own room stops where the body does, so bytes a
 * server sends after the body (a stray CRLF) would wait for the next exchange and be taken as its
 * answer; read with the body's end, they are seen, and the connection is not used again.
 */
const BODY_TAIL_BYTES = 64 * 1024;
/** Smallest body buffer allocated, in bytes (a chunked body grows it by doubling). */
const BODY_MIN_BYTES = 64 * 1024;

/** One answer: its status, a header by lower-case name, and its body, valid until `release()`. */
export type Http1Answer = {
  status: number;
  header(name: string): string | null;
  /** The body's bytes: a view into a reused buffer; copy what must outlive `release()`. */
  body: Buffer;
  /** Gives the body's buffer back for the next answer (idempotent). */
  release(): void;
};

/** A request failed before its answer was complete: `code` as Node's socket errors (ECONNREFUSED, ECONNRESET, …); none when the answer was not HTTP/1.x. */
export class Http1Error extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'Http1Error';
  }
}

const readBuffer = Buffer.allocUnsafeSlow(READ_BYTES);
const spare: Buffer[] = [];
let spareBytes = 0;
const idle = new Map<string, Connection[]>();

function takeBuffer(bytes: number): Buffer {
  let best = -1;
  for (let i = 0; i < spare.length; i++) if (spare[i]!.length >= bytes && (best < 0 || spare[i]!.length < spare[best]!.length)) best = i;
  if (best >= 0) {
    spareBytes -= spare[best]!.length;
    return spare.splice(best, 1)[0]!;
  }
  return Buffer.allocUnsafeSlow(Math.max(BODY_MIN_BYTES, 2 ** Math.ceil(Math.log2(Math.max(1, bytes)))));
}

function giveBack(buffer: Buffer): void {
  // A buffer whose memory was moved to another thread (transferred) reads as empty: it is not kept.
  if (buffer.length === 0 || buffer.length > SPARE_BYTES || spare.includes(buffer)) return;
  spare.push(buffer);
  spareBytes += buffer.length;
  // Over the budget, the smallest go first (a larger one serves any answer a smaller one would).
  while (spareBytes > SPARE_BYTES) {
    const smallest = spare.reduce((s, b, i) => (b.length < spare[s]!.length ? i : s), 0);
    spareBytes -= spare.splice(smallest, 1)[0]!.length;
  }
}

/**
 * POSTs `body` (UTF-8) to `url` (an `http:` URL without credentials) with `headers`, and resolves
 * with the whole answer, whatever its status. The whole exchange (connecting included) must end
 * within `timeoutMs`.
 * @throws an Error named TimeoutError after `timeoutMs`, AbortError when `signal` aborts, or
 *   Http1Error (with `code`) when the connection fails or the answer is not HTTP/1.x.
 */
export async function http1Post(url: URL, headers: Readonly<Record<string, string>>, body: string, options: { timeoutMs: number; signal?: AbortSignal }): Promise<Http1Answer> {
  const payload = Buffer.from(body, 'utf8');
  let head = `POST ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\nuser-agent: ${USER_AGENT}\r\naccept-encoding: identity\r\ncontent-length: ${payload.length}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  const request = Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), payload]);
  const deadline = Date.now() + options.timeoutMs;
  try {
    return await exchange(url, request, deadline, options);
  } catch (err) {
    // The server closed a kept-alive connection as it was reused: once more on a new one.
    if (err instanceof StaleConnection) return exchange(url, request, deadline, options, true);
    throw err;
  }
}

/** A kept-alive connection closed before any byte of its answer came. */
class StaleConnection extends Error {}

function exchange(url: URL, request: Buffer, deadline: number, options: { timeoutMs: number; signal?: AbortSignal }, fresh = false): Promise<Http1Answer> {
  return new Promise<Http1Answer>((resolve, reject) => {
    const { signal } = options;
    if (signal?.aborted) return reject(abortError());
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1'); // an IPv6 literal without its brackets
    const key = `${host}:${url.port || '80'}`;
    const reused = fresh ? undefined : takeIdle(key);
    const connection = reused ?? new Connection(key, host, Number(url.port || 80));
    const timer = setTimeout(() => finish(Object.assign(new Error(`no answer within ${options.timeoutMs} ms`), { name: 'TimeoutError' })), Math.max(0, deadline - Date.now()));
    const forget = signal ? onAbort(signal, () => finish(abortError())) : () => {};
    const finish = (err: Error | null, answer?: Http1Answer) => {
      clearTimeout(timer);
      forget();
      if (err) {
        connection.destroy(); // a timeout or abort leaves the connection mid-answer: never reused
        reject(err);
      } else resolve(answer!);
    };
    connection.start(new Parser(), reused !== undefined, finish);
    connection.socket.write(request);
  });
}

/** A kept-alive connection to `key`, the most recently parked first, skipping any the server has closed meanwhile. */
function takeIdle(key: string): Connection | undefined {
  const list = idle.get(key);
  for (let connection = list?.pop(); connection; connection = list?.pop()) {
    if (connection.usable()) return connection;
    connection.destroy();
  }
  return undefined;
}

/** What each signal runs when it aborts: one listener per signal however many requests share it (a range's slices do). */
const aborts = new WeakMap<AbortSignal, Set<() => void>>();

/** Runs `run` once when `signal` aborts; returns what forgets it. */
function onAbort(signal: AbortSignal, run: () => void): () => void {
  let runs = aborts.get(signal);
  if (!runs) {
    const all = (runs = new Set());
    aborts.set(signal, all);
    signal.addEventListener('abort', () => {
      for (const r of [...all]) r();
      all.clear();
    }, { once: true });
  }
  runs.add(run);
  return () => runs.delete(run);
}

function abortError(): Error {
  return Object.assign(new Error('request cancelled'), { name: 'AbortError' });
}

/** One kept-alive connection to `key` (host:port), running one exchange at a time. */
class Connection {
  readonly socket: net.Socket;
  private parser: Parser | null = null;
  private reused = false;
  private done: ((err: Error | null, answer?: Http1Answer) => void) | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly key: string, host: string, port: number) {
    this.socket = net.connect({
      host,
      port,
      noDelay: true,
      // Where the next read goes, asked after each one: into the body's own buffer while a content-length body arrives (no copy).
      onread: { buffer: () => this.parser?.bodyRoom() ?? readBuffer, callback: (bytes: number, buffer: Uint8Array) => this.onData(buffer.subarray(0, bytes)) },
    } as net.NetConnectOpts);
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.fail(new Http1Error(err.message, err.code ?? 'ECONNRESET')));
    this.socket.on('end', () => this.onEnd());
    this.socket.on('close', () => this.onEnd());
  }

  /** Still open both ways (the server may have ended it since it was parked). */
  usable(): boolean {
    return !this.closed && !this.socket.destroyed && !this.socket.readableEnded;
  }

  start(parser: Parser, reused: boolean, done: (err: Error | null, answer?: Http1Answer) => void): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.socket.ref();
    this.parser = parser;
    this.reused = reused;
    this.done = done;
  }

  destroy(): void {
    this.closed = true;
    this.forget();
    this.parser?.discard();
    this.parser = null;
    this.done = null;
    this.socket.destroy();
  }

  /** Data read into the thread's read buffer (parsed, the body copied, before this returns) or into the body's room. */
  private onData(data: Uint8Array): boolean {
    const parser = this.parser;
    if (!parser) {
      this.destroy(); // bytes nobody asked for
      return false;
    }
    try {
      if (parser.feed(data)) this.complete(parser);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return false;
    }
    return true;
  }

  private onEnd(): void {
    const parser = this.parser;
    if (parser?.untilClose && parser.feedEnd()) {
      this.complete(parser);
      return;
    }
    this.fail(new Http1Error('the server closed the connection before the answer was complete', 'ECONNRESET'));
  }

  private complete(parser: Parser): void {
    const done = this.done!;
    const answer = parser.answer();
    this.parser = null;
    this.done = null;
    if (parser.keepAlive && !this.closed) this.park();
    else this.destroy();
    done(null, answer);
  }

  private fail(err: Error): void {
    const done = this.done;
    // A kept-alive connection the server had closed: nothing of the answer came, so it is sent again.
    if (this.parser && this.reused && !this.parser.started) err = new StaleConnection();
    this.destroy();
    done?.(err);
  }

  private park(): void {
    this.socket.unref();
    let list = idle.get(this.key);
    if (!list) idle.set(this.key, (list = []));
    list.push(this);
    this.idleTimer = setTimeout(() => this.destroy(), IDLE_MS);
    this.idleTimer.unref();
  }

  private forget(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const list = idle.get(this.key);
    const at = list?.indexOf(this) ?? -1;
    if (at >= 0) list!.splice(at, 1);
  }
}

const LF = 0x0a;
const HEAD_END = Buffer.from('\r\n\r\n');
const LF_LF = Buffer.from('\n\n');

/**
 * The parser of one HTTP/1.1 answer (RFC 9112 §§ 4–7): the status line and headers, then the body
 * framed by `transfer-encoding: chunked`, `content-length` or the connection's end.
 * @throws Http1Error (HTTP_PARSE) on anything else.
 */
class Parser {
  /** A byte of the answer came (a closed kept-alive connection without one is stale). */
  started = false;
  keepAlive = true;
  untilClose = false;
  private state: 'head' | 'length' | 'size' | 'data' | 'data-end' | 'trailer' | 'close' | 'done' = 'head';
  private pendingHead: Buffer | null = null;
  private status = 0;
  private headers = new Map<string, string>();
  private body: Buffer | null = null;
  private length = 0;
  private remaining = 0;
  private line = '';

  /** Parses `data`; true when the answer is complete. */
  feed(data: Uint8Array): boolean {
    if (data.length > 0) this.started = true;
    let at = 0;
    while (at < data.length || this.state === 'done') {
      switch (this.state) {
        case 'head':
          at = this.readHead(data, at);
          break;
        case 'length':
        case 'close':
        case 'data': {
          const n = this.state === 'close' ? data.length - at : Math.min(this.remaining, data.length - at);
          this.append(data, at, n);
          at += n;
          this.remaining -= n;
          if (this.state === 'length' && this.remaining === 0) this.state = 'done';
          else if (this.state === 'data' && this.remaining === 0) this.state = 'data-end';
          break;
        }
        case 'size':
        case 'data-end':
        case 'trailer':
          at = this.readLine(data, at);
          break;
        case 'done':
          // Bytes after the answer (a stray CRLF, or a server that is confused): the answer stands, as
          // for fetch, but the connection is not used again.
          if (at < data.length) this.keepAlive = false;
          return true;
      }
    }
    return false;
  }

  /** The connection ended: true when the body was framed by it. */
  feedEnd(): boolean {
    if (this.state !== 'close') return false;
    this.state = 'done';
    return true;
  }

  answer(): Http1Answer {
    let buffer = this.body;
    const headers = this.headers;
    return {
      status: this.status,
      header: (name) => headers.get(name) ?? null,
      body: buffer ? buffer.subarray(0, this.length) : Buffer.alloc(0),
      release: () => {
        if (buffer) giveBack(buffer);
        buffer = null;
      },
    };
  }

  /**
   * The part of the body buffer the rest of a `content-length` body goes to, for the socket to read
   * into, all but its last BODY_TAIL_BYTES; null otherwise (then the thread's read buffer). The
   * connection asks after each read (the state is current), and is destroyed whenever an exchange
   * ends mid-body, so no read lands there after the buffer went back.
   */
  bodyRoom(): Uint8Array | null {
    const room = this.remaining - BODY_TAIL_BYTES;
    return this.state === 'length' && this.body && room > 0 ? this.body.subarray(this.length, this.length + room) : null;
  }

  /** The exchange ended without an answer: its body buffer goes back. */
  discard(): void {
    if (this.body) giveBack(this.body);
    this.body = null;
  }

  private readHead(data: Uint8Array, at: number): number {
    const view = Buffer.from(data.buffer, data.byteOffset + at, data.length - at);
    const joined = this.pendingHead ? Buffer.concat([this.pendingHead, view]) : view;
    // The empty line that ends the header: CRLF CRLF, or a bare LF LF (RFC 9112 § 2.2 lets a client take LF alone).
    const crlf = joined.indexOf(HEAD_END);
    const lf = joined.indexOf(LF_LF);
    const [end, next] = lf >= 0 && (crlf < 0 || lf < crlf) ? [lf, lf + 2] : [crlf, crlf + 4];
    if (end < 0 ? joined.length > MAX_HEAD_BYTES : end > MAX_HEAD_BYTES) throw new Http1Error(`an answer's header is over ${MAX_HEAD_BYTES} bytes`);
    if (end < 0) {
      this.pendingHead = Buffer.from(joined); // a copy: the read buffer is reused
      return data.length;
    }
    const used = next - (this.pendingHead?.length ?? 0);
    this.pendingHead = null;
    this.parseHead(joined.toString('latin1', 0, end));
    return at + used;
  }

  private parseHead(text: string): void {
    const lines = text.split(/\r?\n/);
    const match = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]!);
    if (!match) throw new Http1Error(`the answer is not HTTP/1.x (${JSON.stringify(lines[0]!.slice(0, 40))})`);
    const status = Number(match[2]);
    const headers = new Map<string, string>();
    let last: string | undefined;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      if (last !== undefined && (line.startsWith(' ') || line.startsWith('\t'))) {
        headers.set(last, `${headers.get(last)!} ${line.trim()}`.trim()); // obs-fold (RFC 9112 § 5.2): one space
        continue;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Http1Error(`a malformed header line in the answer (${JSON.stringify(line.slice(0, 40))})`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const before = headers.get(name);
      headers.set(name, before === undefined ? value : `${before}, ${value}`);
      last = name;
    }
    if (status >= 100 && status < 200) {
      if (status === 101) throw new Http1Error('the server switched protocols');
      return; // an interim answer: the final one follows
    }
    this.status = status;
    this.headers = headers;
    const connection = (headers.get('connection') ?? '').toLowerCase();
    this.keepAlive = match[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    const coding = (headers.get('content-encoding') || 'identity').toLowerCase();
    if (coding !== 'identity') throw new Http1Error(`the answer has content-encoding ${coding}, which was not asked for`);
    const transfer = headers.get('transfer-encoding');
    const length = headers.get('content-length');
    if (status === 204 || status === 304) {
      this.state = 'done';
    } else if (transfer !== undefined) {
      if (transfer.toLowerCase() !== 'chunked') throw new Http1Error(`the answer has transfer-encoding ${transfer}`);
      if (match[1] === '0') throw new Http1Error('an HTTP/1.0 answer has transfer-encoding'); // RFC 9112 § 6.1: faulty framing
      // With content-length too, transfer-encoding wins and the connection is not used again (RFC 9112 § 6.3).
      if (length !== undefined) this.keepAlive = false;
      this.state = 'size';
    } else if (length !== undefined) {
      if (!/^\d{1,15}$/.test(length)) throw new Http1Error(`the answer has content-length ${JSON.stringify(length)}`);
      this.remaining = Number(length);
      this.body = takeBuffer(this.remaining);
      this.state = this.remaining === 0 ? 'done' : 'length';
    } else {
      this.state = 'close';
      this.untilClose = true;
      this.keepAlive = false;
    }
  }

  /** A line of the chunked framing (a chunk's size, the CRLF after its data, a trailer); it may span reads. */
  private readLine(data: Uint8Array, at: number): number {
    const view = Buffer.from(data.buffer, data.byteOffset, data.length);
    const end = view.indexOf(LF, at);
    this.line += view.toString('latin1', at, end < 0 ? data.length : end);
    if (this.line.length > MAX_HEAD_BYTES) throw new Http1Error('a chunked answer has a framing line that does not end');
    if (end < 0) return data.length;
    const line = this.line.endsWith('\r') ? this.line.slice(0, -1) : this.line;
    this.line = '';
    if (this.state === 'data-end') {
      if (line !== '') throw new Http1Error('a chunk of the answer is longer than its size says');
      this.state = 'size';
    } else if (this.state === 'size') {
      const size = /^([0-9a-fA-F]{1,12})[ \t]*(;.*)?$/.exec(line);
      if (!size) throw new Http1Error(`a chunked answer has the chunk size ${JSON.stringify(line.slice(0, 20))}`);
      this.remaining = parseInt(size[1]!, 16);
      this.state = this.remaining === 0 ? 'trailer' : 'data';
    } else if (line === '') {
      this.state = 'done'; // the empty line after the trailers
    }
    return end + 1;
  }

  private append(data: Uint8Array, at: number, n: number): void {
    if (n === 0) return;
    if (this.body && data.buffer === this.body.buffer && data.byteOffset + at === this.body.byteOffset + this.length) {
      this.length += n; // read into bodyRoom(): already in place
      return;
    }
    const need = this.length + n;
    if (!this.body || this.body.length < need) {
      const bigger = takeBuffer(Math.max(need, (this.body?.length ?? 0) * 2));
      if (this.body) {
        this.body.copy(bigger, 0, 0, this.length);
        giveBack(this.body);
      }
      this.body = bigger;
    }
    this.body.set(data.subarray(at, at + n), this.length);
    this.length = need;
  }
}
