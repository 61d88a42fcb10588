/**
 * Endpoint URL redaction: RPC URLs often carry API keys (userinfo, `/v2/<key>`, `/v3/<key>`,
 * `?apikey=`), so nothing prints a raw URL. Every printed endpoint is its label `host#n`.
 */

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
 * Removes every occurrence of the given secret URLs (and their path/query parts, which hold the
 * keys) from a message, replacing each URL by its label. Used on error messages that an HTTP
 * library may have built from the raw URL. Pure; never throws.
 */
export function redactUrls(message: string, urls: readonly string[]): string {
  let out = message;
  urls.forEach((url, index) => {
    const label = endpointLabel(url, index);
    out = out.split(url).join(label);
    try {
      const parsed = new URL(url);
      // Longest first, so a path is removed before a shorter secret inside it.
      const secretParts = [parsed.pathname, parsed.search, parsed.username, parsed.password]
        .filter((part) => part.length > 0 && part !== '/')
        .sort((a, b) => b.length - a.length);
      for (const part of secretParts) out = out.split(part).join('/<redacted>');
    } catch {
      /* unparsable URL: nothing more to strip */
    }
  });
  return out;
}
