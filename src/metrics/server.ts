import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Longest one readiness check may take before it counts as failed, in ms (kubelet's probe timeout is 1 s by default; ours is 3 s in deploy/k8s). */
const READINESS_CHECK_TIMEOUT_MS = 2_000;
/** Longest the merge of the Temporal Core metrics may take during a scrape, in ms. */
const CORE_METRICS_TIMEOUT_MS = 2_000;

/** Outcome of the readiness checks: `ready` when every check passed; `checks` maps each name to 'ok' or the reason it failed. */
export type ReadinessReport = { ready: boolean; checks: Record<string, string> };

/** Runs every readiness check at once; never throws. */
export type Readiness = () => Promise<ReadinessReport>;

/**
 * Builds a readiness function over named checks (e.g. `postgres`: `select 1`; `temporal`:
 * `GetSystemInfo`; `worker`: the worker polls). A check passes when it resolves within
 * `timeoutMs` (default 2,000 ms); a rejection or a timeout fails it with its message.
 * @example createReadiness({ postgres: () => sql`select 1`.execute(db).then(() => undefined) })
 */
export function createReadiness(checks: Readonly<Record<string, () => Promise<void>>>, options: { timeoutMs?: number } = {}): Readiness {
  const timeoutMs = options.timeoutMs ?? READINESS_CHECK_TIMEOUT_MS;
  return async () => {
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]): Promise<[string, string]> => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        });
        try {
          await Promise.race([check(), timeout]);
          return [name, 'ok'];
        } catch (err) {
          return [name, describeError(err)];
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return { ready: results.every(([, status]) => status === 'ok'), checks: Object.fromEntries(results) };
  };
}

/** A running metrics and health HTTP server. */
export type MetricsServer = { readonly port: number; close(): Promise<void> };

/**
 * Serves, with node:http on `host:port` (port 0 picks a free one):
 * - `GET /metrics`: `render()`'s Prometheus text, followed by the Temporal SDK (Core) metrics
 *   fetched from `coreMetricsUrl` when given (Core's own exporter, bound to 127.0.0.1), so one
 *   scrape gets both; a Core exporter that does not answer adds only a comment line.
 * - `GET /healthz`: 200 `ok` while the process serves HTTP (liveness).
 * - `GET /readyz`: 200 when every readiness check passes, else 503; the body is the JSON report.
 * Anything else is 404.
 * @throws the listen error (EADDRINUSE, EACCES) when the port cannot be bound.
 */
export async function startMetricsServer(options: {
  port: number;
  host?: string;
  render(): Promise<string>;
  contentType: string;
  readiness: Readiness;
  coreMetricsUrl?: string;
}): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'text/plain', 'method not allowed\n');
    if (path === '/healthz') return reply(200, 'text/plain', 'ok\n');
    if (path === '/readyz') {
      void options.readiness().then((report) => reply(report.ready ? 200 : 503, 'application/json', `${JSON.stringify(report)}\n`));
      return;
    }
    if (path === '/metrics') {
      void Promise.all([options.render(), options.coreMetricsUrl ? fetchCoreMetrics(options.coreMetricsUrl) : Promise.resolve('')]).then(
        ([own, core]) => reply(200, options.contentType, own + core),
        (err: unknown) => reply(500, 'text/plain', `metrics failed: ${describeError(err)}\n`),
      );
      return;
    }
    reply(404, 'text/plain', 'not found: try /metrics, /healthz or /readyz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function fetchCoreMetrics(url: string): Promise<string> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(CORE_METRICS_TIMEOUT_MS) });
    const text = await response.text();
    return response.ok ? `\n${text}` : `\n# temporal core metrics unavailable: HTTP ${response.status}\n`;
  } catch (err) {
    return `\n# temporal core metrics unavailable: ${describeError(err).replace(/\n/g, ' ')}\n`;
  }
}

function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return describeError(err.errors[0]);
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})`.trim() : message || String(code);
}
