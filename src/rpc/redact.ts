/**
 * Endpoint URL redaction: RPC URLs often carry API keys (userinfo, `/v2/<key>`, `/v3/<key>`,
 * `?apikey=`), so nothing prints a raw URL. Every printed endpoint is its label `host#n`, and every
 * text the RPC layer takes from an endpoint (its JSON-RPC error messages, its HTTP error bodies, a
 * connection error) loses that endpoint's secret parts before it leaves the pool: a node may well
 * answer "API key <key> is not valid" or echo the request's path.
 */

/**
 * Secret parts shorter than this, in characters, are left where they stand alone in a text: path
 * segments such as `v2`, `v3`, `eth`, `rpc` or `api` and values such as `1` or `json` are common
 * words of error messages, and replacing them would garble every message, while API keys are far
 * longer (Alchemy's 32 characters, Infura's 32, QuickNode's 40). A whole URL is always replaced,
 * and so is the userinfo (a credential by definition, replaced whatever its length as before).
 */
const MIN_SECRET_PART_CHARS = 6;
/** What a whole path, query string or userinfo part becomes (the slash stands for the path it replaced). */
const URL_PART_REDACTED = '/<redacted>';
/** What a single path segment or query value becomes. */
const VALUE_REDACTED = '<redacted>';
/** Causes followed by {@link redactError}, at most (a cause chain is short; a cycle stops here too). */
const MAX_CAUSE_DEPTH = 8;

/**
 * Label of endpoint number `index` (0-based position in `RPC_URL`): `host:port#n` with n 1-based,
 * no path, query or credentials. An unparsable URL becomes `endpoint#n`. Pure; never throws.
 * @example endpointLabel('https://eth-mainnet.g.alchemy.com/v2/KEY', 0) // 'eth-mainnet.g.alchemy.com#1'
 */
export function endpointLabel(url: string, index: number): string {
  try {
    const parsed = new URL(url);
    return `${parsed.host}#${index + 1}`;
  } catch {
    return `endpoint#${index + 1}`;
  }
}

/**
 * Removes the given secret URLs and every secret part of them from `message`. Pure; never throws.
 * - the whole URL (as written, normalized by `new URL`, without its credentials, URL-encoded)
 *   becomes its label: `labels[i]`, or `endpointLabel(urls[i], i)` when `labels` is not given;
 * - the path, the query string, and the two together, as written, decoded and URL-encoded, become
 *   `/<redacted>` when at least MIN_SECRET_PART_CHARS (6) characters long; the userinfo's user and
 *   password whatever their length, and `user:password` in base64 (the `Authorization: Basic` form
 *   a proxy may echo);
 * - each path segment and each query parameter value (as written, decoded, URL-encoded) becomes
 *   `<redacted>`, unless shorter than MIN_SECRET_PART_CHARS (6) characters (`v2`, `eth`, `rpc` stay);
 *   one made of letters only (`mainnet`, `ethereum`: words, not keys) only where it stands as a word
 *   of its own, so "ethereum-compatible" stays, while a key (with digits or signs) goes wherever it appears.
 * Longer matches win (a path goes before a segment inside it), text is scanned once (a label put in
 * is never scanned again), and the labels already in `message` are kept whole.
 * @example redactUrls('API key SECRETKEY123 is not valid; /v2/SECRETKEY123?apikey=SECRET2', ['http://h:1/v2/SECRETKEY123?apikey=SECRET2'])
 *   // 'API key <redacted> is not valid; /<redacted>'
 */
export function redactUrls(message: string, urls: readonly string[], labels?: readonly string[]): string {
  return createRedactor(urls, labels)(message);
}

/**
 * {@link redactUrls} for `urls` (and their `labels`) prepared once: the function the pool keeps per
 * endpoint and applies to every text it takes from that endpoint. Pure; never throws.
 */
export function createRedactor(urls: readonly string[], labels?: readonly string[]): (text: string) => string {
  const replacements = new Map<string, string>();
  const add = (candidates: Iterable<string>, replacement: string, minChars: number) => {
    for (const candidate of candidates) {
      if (candidate.length >= Math.max(1, minChars) && !replacements.has(candidate)) replacements.set(candidate, replacement);
    }
  };
  const kept: string[] = [];
  urls.forEach((url, index) => {
    const label = labels?.[index] ?? endpointLabel(url, index);
    kept.push(label);
    add([url, safe(() => encodeURIComponent(url)) ?? url], label, 1);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return; // unparsable: only the whole text is known to be secret
    }
    const bare = new URL(parsed.href);
    bare.username = '';
    bare.password = '';
    add([printed(parsed), printed(bare)], label, 1);
    const { pathname, search } = parsed;
    const path = pathname === '/' ? '' : pathname;
    add([path + search, path, search].flatMap(forms), URL_PART_REDACTED, MIN_SECRET_PART_CHARS);
    add([parsed.password].flatMap(forms), URL_PART_REDACTED, 1);
    add([parsed.username].flatMap(forms), URL_PART_REDACTED, 1);
    if (parsed.username || parsed.password) {
      const basic = Buffer.from(`${safe(() => decodeURIComponent(parsed.username)) ?? parsed.username}:${safe(() => decodeURIComponent(parsed.password)) ?? parsed.password}`).toString('base64');
      add([basic, basic.replace(/=+$/, '')], URL_PART_REDACTED, 1);
    }
    const segments = pathname.split('/');
    const values = search.slice(1).split('&').map((pair) => pair.slice(pair.indexOf('=') + 1));
    add([...segments, ...values].flatMap(forms), VALUE_REDACTED, MIN_SECRET_PART_CHARS);
  });
  // A label already in the text stays whole, even when a secret part is a piece of it.
  for (const label of kept) if (!replacements.has(label)) replacements.set(label, label);
  const candidates = [...replacements.keys()].filter((c) => c.length > 0).sort((a, b) => b.length - a.length);
  if (candidates.length === 0) return (text) => text;
  // A letters-only part is a word (`mainnet`): replaced only where no URL-ish character touches it.
  const alone = (c: string) => (replacements.get(c) === VALUE_REDACTED && /^[A-Za-z]+$/.test(c) ? `(?<![\\w.~%+-])${escapeRegExp(c)}(?![\\w.~%+-])` : escapeRegExp(c));
  const pattern = new RegExp(candidates.map(alone).join('|'), 'g');
  return (text) => text.replace(pattern, (found) => replacements.get(found) ?? VALUE_REDACTED);
}

/**
 * Redacts, in place, the message and stack of `err` and of its causes (and an AggregateError's
 * errors) with `redact` (a {@link createRedactor} function), and returns it: for errors whose text
 * may hold what an endpoint answered. A thrown string comes back redacted; anything else as it
 * is. Never throws.
 */
export function redactError(err: unknown, redact: (text: string) => string, depth = 0): unknown {
  if (typeof err === 'string') return redact(err);
  if (!(err instanceof Error) || depth > MAX_CAUSE_DEPTH) return err;
  // The stack's first line is the message: it is rewritten (and V8 made to build it) only when the message changed.
  const message = err.message;
  const redactedMessage = typeof message === 'string' ? redact(message) : message;
  if (redactedMessage !== message) {
    for (const [key, value] of [['message', redactedMessage], ['stack', typeof err.stack === 'string' ? redact(err.stack) : err.stack]] as const) {
      try {
        Object.defineProperty(err, key, { value, writable: true, configurable: true, enumerable: false });
      } catch {
        /* a frozen error: left as it is */
      }
    }
  }
  if (err.cause !== undefined) {
    const cause = redactError(err.cause, redact, depth + 1);
    if (cause !== err.cause) safe(() => Object.defineProperty(err, 'cause', { value: cause, writable: true, configurable: true, enumerable: false }));
  }
  if (err instanceof AggregateError && Array.isArray(err.errors)) err.errors.forEach((e: unknown) => redactError(e, redact, depth + 1));
  return err;
}

/**
 * `part` as written, percent-decoded (and with `+` as a space, as a query decodes it), and
 * percent-encoded (the decoded text, and the text as written: a URL echoed as a parameter).
 */
function forms(part: string): string[] {
  const decoded = safe(() => decodeURIComponent(part)) ?? part;
  const plusDecoded = safe(() => decodeURIComponent(part.replace(/\+/g, ' '))) ?? part;
  const encoded = [decoded, part].map((text) => safe(() => encodeURIComponent(text)) ?? part);
  return [...new Set([part, decoded, plusDecoded, ...encoded])];
}

/** A parsed URL as `href` prints it, without the `/` of an empty path (how it is usually written). */
function printed(url: URL): string {
  return url.pathname === '/' && !url.search && !url.hash ? url.href.slice(0, -1) : url.href;
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
