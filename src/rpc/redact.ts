/**
 * Endpoint URL redaction: RPC URLs often carry API keys (userinfo, `/v2/<key>`, `/v3/<key>`,
 * `?apikey=`), so nothing prints a raw URL. Every printed endpoint is its label `host#n`, and every
 * text the RPC layer takes from an endpoint (its JSON-RPC error messages, its HTTP error bodies, a
 * connection error) loses that endpoint's secret parts before it leaves the pool: a node may well
 * answer "API key <key> is not valid" or echo the request's path.
 */

/**
 * Secret parts shorter than this, in characters, are left where they stand alone in a text: path
 * segments such as `v2`, `v3`, `eth`, `rpc` or `api`, values such as `1` or `json` and users such as
 * `u` or `admin` are common words (or letters) of error messages, and replacing them would garble
 * every message, while API keys are far longer (Alchemy's 32 characters, Infura's 32, QuickNode's
 * 40). A whole URL is always replaced, and so is its `user:password@` part, whatever its length.
 * A password shorter than this is also replaced where it stands as a token of its own (a
 * credential by definition), never inside a word.
 */
const MIN_SECRET_PART_CHARS = 6;
/**
 * A password at least this long, in characters, is replaced wherever it appears, even inside other
 * words (a secret by definition; "u:pw12." or "pw12-x" must not show it); a shorter one only as a
 * token of its own, or a one- or two-letter password would garble every message.
 */
const MIN_PASSWORD_ANYWHERE_CHARS = 3;
/** What a whole path, query string or userinfo part becomes (the slash stands for the path it replaced). */
const URL_PART_REDACTED = '/<redacted>';
/** What a single path segment or query value becomes. */
const VALUE_REDACTED = '<redacted>';
/** What the `user:password@` of a URL becomes (the `@` kept, so the host after it still reads as a host). */
const USERINFO_REDACTED = '<redacted>@';
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
 * How a message names endpoint number `index`: `endpoint <label>` ({@link endpointLabel}), or
 * `endpoint #n` for an unparsable URL (not `endpoint endpoint#n`). Pure; never throws.
 * @example endpointPhrase('not a url', 0) // 'endpoint #1'
 * @example endpointPhrase('https://eth.example/v2/KEY', 1) // 'endpoint eth.example#2'
 */
export function endpointPhrase(url: string, index: number): string {
  const label = endpointLabel(url, index);
  return label.startsWith('endpoint#') ? `endpoint ${label.slice('endpoint'.length)}` : `endpoint ${label}`;
}

/**
 * Removes the given secret URLs and every secret part of them from `message`. Pure; never throws.
 * - the whole URL (as written, normalized by `new URL`, without its credentials, URL-encoded)
 *   becomes its label: `labels[i]`, or `endpointLabel(urls[i], i)` when `labels` is not given;
 * - the path, the query string, and the two together, as written, decoded and URL-encoded, become
 *   `/<redacted>` when at least MIN_SECRET_PART_CHARS (6) characters long;
 * - the userinfo, whatever its length: `user:password@` (also `user@` and `user:@` when the
 *   password is empty, `:password@` when the user is), as written, decoded and URL-encoded, becomes
 *   `<redacted>@` (`<redacted>%40` when URL-encoded) where it does not start inside a word
 *   (so `ab@` of "xab@example.com" stays), and `user:password` without the `@` becomes
 *   `/<redacted>` as a token of its own;
 * - the password alone (as written, decoded, URL-encoded) becomes `/<redacted>`: one of 3+
 *   characters (MIN_PASSWORD_ANYWHERE_CHARS) wherever it appears, even inside a word (a secret
 *   leaks less for a garbled word now and then); one of 1–2 characters only where it stands as a
 *   token of its own (`pw` goes in "password pw wrong", stays in "pwd");
 * - the user alone follows the path segment rule below (it becomes `/<redacted>`), so a user such
 *   as `u`, `e`, `ab` or `admin` stays in "startup", "error" or "unreachable" and where it stands alone;
 * - `user:password` in base64 (the `Authorization: Basic` form a proxy may echo) becomes
 *   `/<redacted>`: wherever it appears from 6 characters on, a shorter one (`dTo=` for `u:`) only
 *   where no base64 character touches it;
 * - each path segment and each query parameter value (as written, decoded, URL-encoded) becomes
 *   `<redacted>`, unless shorter than MIN_SECRET_PART_CHARS (6) characters (`v2`, `eth`, `rpc` stay);
 *   one made of letters only (`mainnet`, `ethereum`: words, not keys) only where it stands as a word
 *   of its own, so "ethereum-compatible" stays, while a key (with digits or signs) goes wherever it appears.
 * A token or word of its own: no letter, digit, `_`, `.`, `~`, `%`, `+` or `-` touches it on either side.
 * Longer matches win (a path goes before a segment inside it), text is scanned once (a label put in
 * is never scanned again), and the labels and `<redacted>` marks already in `message` are kept
 * whole (a text redacted twice comes out as it did once).
 * @example redactUrls('API key SECRETKEY123 is not valid; /v2/SECRETKEY123?apikey=SECRET2', ['http://h:1/v2/SECRETKEY123?apikey=SECRET2'])
 *   // 'API key <redacted> is not valid; /<redacted>'
 * @example redactUrls('startup error: ws://u:pw@h:1 unreachable', ['http://u:pw@h:1/v2/SECRETKEY123'])
 *   // 'startup error: ws://<redacted>@h:1 unreachable'
 */
export function redactUrls(message: string, urls: readonly string[], labels?: readonly string[]): string {
  return createRedactor(urls, labels)(message);
}

/**
 * {@link redactUrls} for `urls` (and their `labels`) prepared once: the function the pool keeps per
 * endpoint and applies to every text it takes from that endpoint. Pure; never throws.
 */
export function createRedactor(urls: readonly string[], labels?: readonly string[]): (text: string) => string {
  const replacements = new Map<string, { replacement: string; stand: Stand }>();
  /** Adds each candidate `standing(candidate)` accepts; the first rule given for a text wins. */
  const add = (candidates: Iterable<string>, replacement: string | ((candidate: string) => string), standing: (candidate: string) => Stand | undefined) => {
    for (const candidate of candidates) {
      const stand = candidate.length > 0 ? standing(candidate) : undefined;
      if (stand && !replacements.has(candidate)) replacements.set(candidate, { replacement: typeof replacement === 'string' ? replacement : replacement(candidate), stand });
    }
  };
  const kept: string[] = [URL_PART_REDACTED, VALUE_REDACTED, USERINFO_REDACTED];
  urls.forEach((url, index) => {
    const label = labels?.[index] ?? endpointLabel(url, index);
    kept.push(label);
    add([url, safe(() => encodeURIComponent(url)) ?? url], label, anywhere);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return; // unparsable: only the whole text is known to be secret
    }
    const bare = new URL(parsed.href);
    bare.username = '';
    bare.password = '';
    add([printed(parsed), printed(bare)], label, anywhere);
    const { pathname, search, username, password } = parsed;
    const path = pathname === '/' ? '' : pathname;
    add([path + search, path, search].flatMap(forms), URL_PART_REDACTED, (c) => (c.length >= MIN_SECRET_PART_CHARS ? 'anywhere' : undefined));
    if (username || password) {
      const { atForms, pairs, basic } = userinfoForms(url, username, password);
      add(atForms, (c) => (c.endsWith('@') ? USERINFO_REDACTED : `${VALUE_REDACTED}%40`), () => 'userinfo');
      add([password].flatMap(forms), URL_PART_REDACTED, (c) => (c.length >= MIN_PASSWORD_ANYWHERE_CHARS ? 'anywhere' : 'word'));
      add(pairs, URL_PART_REDACTED, () => 'word');
      add(basic, URL_PART_REDACTED, (c) => (c.length >= MIN_SECRET_PART_CHARS ? 'anywhere' : 'base64'));
      add([username].flatMap(forms), URL_PART_REDACTED, keyOrWord);
    }
    const segments = pathname.split('/');
    const values = search.slice(1).split('&').map((pair) => pair.slice(pair.indexOf('=') + 1));
    add([...segments, ...values].flatMap(forms), VALUE_REDACTED, keyOrWord);
  });
  // A label or mark already in the text stays whole, even when a secret part is a piece of it.
  for (const text of kept) if (!replacements.has(text)) replacements.set(text, { replacement: text, stand: 'anywhere' });
  const candidates = [...replacements.keys()].filter((c) => c.length > 0).sort((a, b) => b.length - a.length);
  const pattern = new RegExp(candidates.map((c) => STANDING[replacements.get(c)!.stand](escapeRegExp(c))).join('|'), 'g');
  return (text) => text.replace(pattern, (found) => replacements.get(found)?.replacement ?? VALUE_REDACTED);
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
 * Where a secret part is replaced: `anywhere` (a key, even inside other text); `word` only as a
 * token of its own (no `\w . ~ % + -` touching it); `userinfo` (a `user:password@` form) only where
 * none of those stands just before it, or after an encoded slash (`%2F`): after `//`, a space, a
 * quote or a bracket, never inside a word (`xab@`); `base64` only where no base64 character touches it.
 */
type Stand = 'anywhere' | 'word' | 'userinfo' | 'base64';

/** The regular expression source of an escaped candidate, per {@link Stand}. */
const STANDING: Record<Stand, (escaped: string) => string> = {
  anywhere: (escaped) => escaped,
  word: (escaped) => `(?<![\\w.~%+-])${escaped}(?![\\w.~%+-])`,
  userinfo: (escaped) => `(?:(?<![\\w.~%+-])|(?<=%2[Ff]))${escaped}`,
  base64: (escaped) => `(?<![A-Za-z0-9+/=])${escaped}(?![A-Za-z0-9+/=])`,
};

const anywhere = (): Stand => 'anywhere';

/** A key (6+ characters, not letters only) anywhere; a word (6+ letters) as a word of its own; a shorter part not alone. */
function keyOrWord(candidate: string): Stand | undefined {
  if (candidate.length < MIN_SECRET_PART_CHARS) return undefined;
  return /^[A-Za-z]+$/.test(candidate) ? 'word' : 'anywhere';
}

/**
 * The userinfo of `url` (its parsed `username` and `password`, percent-encoded as `new URL` keeps
 * them) in the forms it may be printed in: `atForms`, `user:password@` as written in `url`, as
 * normalized, decoded, and URL-encoded (`%3A`, `%40`), with `user@` and `user:@` for an empty
 * password; `pairs`, `user:password` without the `@` (when both are set); `basic`, the base64 of
 * the decoded `user:password`, with and without its `=` padding.
 */
function userinfoForms(url: string, username: string, password: string): { atForms: string[]; pairs: string[]; basic: string[] } {
  const decode = (part: string) => safe(() => decodeURIComponent(part)) ?? part;
  const variants: [string, string][] = [[username, password], [decode(username), decode(password)]];
  const written = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)@/.exec(url)?.[1];
  const at = new Set<string>(written === undefined ? [] : [`${written}@`]);
  for (const [user, pass] of variants) {
    for (const form of pass ? [`${user}:${pass}@`] : [`${user}:@`, `${user}@`]) {
      at.add(form);
      at.add(safe(() => encodeURIComponent(form)) ?? form);
    }
  }
  const pairs = username && password ? [...new Set(variants.map(([user, pass]) => `${user}:${pass}`))] : [];
  const base64 = Buffer.from(`${decode(username)}:${decode(password)}`).toString('base64');
  return { atForms: [...at], pairs, basic: [base64, base64.replace(/=+$/, '')] };
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
