import { CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen, isBrokenCircuitError, isIsolatedCircuitError, type CircuitBreakerPolicy } from 'cockatiel';
import pLimit, { type LimitFunction } from 'p-limit';
import { ChainMismatchError, RpcBadResponseError, RpcBatchTooLargeError, RpcTransientError, RpcUnsupportedError } from '../errors.js';
import type { Logger } from '../log.js';
import { classifyRpcError, toRpcError, type RpcFailureKind } from './classify.js';
import { DecodeThreadError, type BodyDecoder } from './decoded.js';
import { postBatch, type EndpointTarget } from './http-batch.js';
import { createRedactor, endpointLabel, redactError } from './redact.js';
import type { RpcOutcome, RpcRequest } from './types.js';

/** Most HTTP requests in flight to one endpoint; the adaptive budget moves between 1 and this. */
const MAX_IN_FLIGHT_REQUESTS = 16;
/** Starting in-flight budget of an endpoint. */
const INITIAL_IN_FLIGHT_REQUESTS = 8;
/**
 * Successes in a row before an endpoint's in-flight budget grows by one, once its slow start
 * ended (before that, each success grows it by one: see `onSuccess`).
 */
const SUCCESSES_PER_BUDGET_STEP = 20;
/** Consecutive failures that open an endpoint's circuit breaker. */
const BREAKER_FAILURES = 5;
/** How long an open breaker waits before a half-open probe, in ms. */
const BREAKER_HALF_OPEN_AFTER_MS = 5_000;
/** Bench time after a rate limit without Retry-After, in ms; doubles per rate limit in a row, capped. */
const RATE_LIMIT_BACKOFF_MS = 1_000;
const RATE_LIMIT_BACKOFF_MAX_MS = 30_000;
/**
 * Largest JSON-RPC batch sent unless `createRpcPool` is given another (`RPC_BATCH_CALLS`); it
 * halves per endpoint when the endpoint refuses a batch (HTTP 413, a batch-limit error) and doubles
 * back every SUCCESSES_PER_BUDGET_STEP successes, up to the largest again.
 */
export const DEFAULT_MAX_BATCH_CALLS = 100;
/** Weight of the newest latency sample in the moving average. */
const LATENCY_EWMA_WEIGHT = 0.2;
/** Share of choices that pick a random usable endpoint, so a recovered endpoint gets measured again. */
const EXPLORATION_SHARE = 0.05;
/** An outage this long means `eth_chainId` is checked again before the endpoint serves, in ms. */
const LONG_OUTAGE_MS = 60_000;
/** Latency a failed request counts as, at least, in ms (so a fast-failing dead endpoint ranks last). */
const FAILURE_LATENCY_PENALTY_MS = 5_000;
/** Interval of the `endpoint-health` log line, in ms. */
const HEALTH_LOG_INTERVAL_MS = 30_000;

/** What operators see of one endpoint (logs now, metrics later). Latency in ms. */
export type EndpointHealth = {
  endpoint: string;
  requests: number;
  errors: Record<string, number>;
  latencyMs: number;
  breaker: 'closed' | 'open' | 'half-open';
  inFlightBudget: number;
  benchedForMs: number;
  maxBatchCalls: number;
  unsupportedMethods: string[];
  /** Excluded for good: it served another chain after an outage. */
  excluded: boolean;
};

/**
 * One HTTP request (one JSON-RPC batch) the pool sent, as an observer (metrics) sees it.
 * `calls` counts the calls per JSON-RPC method in the batch; `failure` is null on success.
 */
export type RpcRequestEvent = {
  endpoint: string;
  calls: Readonly<Record<string, number>>;
  durationMs: number;
  failure: RpcFailureKind | 'circuit-open' | null;
};

/** What the pool reports to, when given: every request it sent (metrics). Must not throw. */
export type RpcObserver = { onRequest(event: RpcRequestEvent): void };

/**
 * What the pool makes of one endpoint's answer: `outcomes` matched by id, `label` the endpoint
 * (`host#n`), `bodyBytes` the size of the answer's JSON (of all its HTTP requests when the
 * endpoint takes smaller batches). Throw or reject to refuse the answer.
 */
export type Accept<T> = (outcomes: RpcOutcome[], label: string, bodyBytes: number) => T | Promise<T>;

/**
 * The pool of JSON-RPC endpoints. Each request goes to the usable endpoint with the best
 * latency-and-load score (with a little exploration); a request that fails moves to the next
 * endpoint at once, so one call fails only when every endpoint failed it, and then Temporal's
 * activity retry is the outer layer. Each endpoint has an adaptive in-flight budget (8 requests at
 * first; in its slow start, as in TCP's, one more per answer until its first failure or 16; then
 * one more per 20 answers in a row; halved on a rate limit), a circuit breaker (cockatiel: opens after 5 failures in a row,
 * half-open probe after 5 s), a rate-limit bench honouring Retry-After, a batch size that halves
 * on HTTP 413, and remembers methods it does not support.
 * Invariant: no URL is ever part of a message or log line; endpoints appear as `host#n`, and
 * whatever text an endpoint sends (JSON-RPC error messages, HTTP error bodies) or a connection error
 * carries loses that endpoint's secret URL parts (`redactUrls`) before `accept` sees it or an error
 * leaves the pool: a node that answers "API key <key> is not valid" cannot put its key in a log line,
 * an activity failure or Temporal history.
 */
export type RpcPool = {
  /** Labels (`host#n`) of the endpoints in use, in `RPC_URL` order. */
  readonly labels: readonly string[];
  /**
   * Sends one JSON-RPC batch and returns what `accept` makes of the outcomes (matched by id).
   * `accept` may throw (or reject) to refuse an answer (a bad or lagging response): the batch then
   * moves to the next endpoint, and the refusal counts as a failure that ranks this endpoint down. Endpoints that refused one of the methods before are skipped.
   * With `decode`, answers' bodies are parsed by it (`postBatch`), so `accept` may get its
   * DecodedBlock results. Endpoints whose label is in `avoid` are not asked (their answer was
   * refused for this request already).
   * @throws the last endpoint's error when every endpoint failed (RpcTransientError and kin);
   *   RpcUnsupportedError when every endpoint refuses a method.
   */
  batch<T>(requests: readonly RpcRequest[], accept: Accept<T>, signal?: AbortSignal, decode?: BodyDecoder, avoid?: ReadonlySet<string>): Promise<T>;
  /** Sends one call; returns its `result`. @throws as `batch`, plus the classified JSON-RPC error. */
  call<T = unknown>(method: string, params: readonly unknown[], signal?: AbortSignal): Promise<T>;
  /**
   * Sends the same batch to every usable endpoint at once; returns the answers that `accept` took.
   * `whyNot`, when given, gets one line per endpoint that gave none: `label: why` (its error's
   * message, or why it was not asked: its circuit breaker open, or benched after a rate limit).
   */
  broadcast<T>(requests: readonly RpcRequest[], accept: Accept<T>, signal?: AbortSignal, whyNot?: string[]): Promise<T[]>;
  /**
   * Benches endpoint `label` for {@link OTHER_FORK_BENCH_MS}: it served blocks of another fork than
   * the endpoint with the highest head (`why` names the block and both hashes; logged as
   * `endpoint-on-other-fork`). Unknown labels are ignored, and so is an endpoint benched so
   * already; a pool of one endpoint benches nothing (there is no other to ask).
   */
  benchOtherFork(label: string, why: string): void;
  /** Per-endpoint counters, latency, breaker state and budget. */
  health(): EndpointHealth[];
  /** How many endpoints could be asked now: not excluded, not benched, breaker not open (or due for its probe). */
  usableCount(): number;
  /**
   * Counts an answer of endpoint `label` refused after the pool took it (a block found off the
   * canonical chain later; `why` says so) as that endpoint's failure: it ranks down, as for any
   * answer refused when it came. Unknown labels are ignored.
   */
  refute(label: string, why: string): void;
  /** Stops the health log timer. */
  close(): void;
};

type PoolEndpoint = EndpointTarget & {
  /** Removes this endpoint's URL and its secret parts from a text (`createRedactor([url], [label])`). */
  redact: (text: string) => string;
  breaker: CircuitBreakerPolicy;
  openedAtMs: number;
  inFlight: number;
  budget: number;
  /** True until the endpoint's first failure of any kind or first answer with rate-limited calls: each success grows `budget` by one (TCP's slow start, RFC 5681). */
  slowStart: boolean;
  successesInRow: number;
  latencyMs: number;
  benchedUntilMs: number;
  /** Why it is benched until `benchedUntilMs`: `after a rate limit` or `on another fork (…)`. */
  benchReason: string;
  rateLimitsInRow: number;
  maxBatchCalls: number;
  /** The largest `maxBatchCalls` (`RPC_BATCH_CALLS`): where it starts and what it grows back to. */
  batchCallsCap: number;
  /** HTTP requests of split requests in flight at once (SLICES_IN_FLIGHT), shared by the endpoint's attempts. */
  slices: LimitFunction;
  unsupported: Set<string>;
  /** Excluded for good: it served another chain after an outage. */
  excluded: boolean;
  /** When the current outage began (first breaker opening), 0 when up. */
  downSinceMs: number;
  chainCheckedAfterOutage: boolean;
  chainCheckRunning: boolean;
  nextChainCheckMs: number;
  requests: number;
  errors: Record<string, number>;
};

/** Creates a pool over `urls` (secret; printed only as labels). Every HTTP request has `timeoutMs`. */
export function createRpcPool(deps: {
  urls: readonly string[];
  /** Labels of `urls`, when they are not in `RPC_URL` order (some were excluded): keeps `host#n` stable. */
  labels?: readonly string[];
  timeoutMs: number;
  log: Logger;
  random?: () => number;
  /** EIP-155 chain id the endpoints must serve; when set, an endpoint back from a long outage is checked again. */
  chainId?: number;
  /** Outage after which `eth_chainId` is checked again before use, in ms (default 60,000). */
  longOutageMs?: number;
  /** Told about every request sent (optional; metrics). */
  observer?: RpcObserver;
  /** Most JSON-RPC calls per HTTP request, per endpoint (`RPC_BATCH_CALLS`; default {@link DEFAULT_MAX_BATCH_CALLS}). @throws RangeError when not an integer ≥ 1. */
  maxBatchCalls?: number;
}): RpcPool {
  const random = deps.random ?? Math.random;
  const maxBatchCalls = deps.maxBatchCalls ?? DEFAULT_MAX_BATCH_CALLS;
  if (!Number.isInteger(maxBatchCalls) || maxBatchCalls < 1) throw new RangeError(`maxBatchCalls must be an integer ≥ 1, got ${maxBatchCalls}`);
  const endpoints: PoolEndpoint[] = deps.urls.map((url, i) => createEndpoint(url, deps.labels?.[i] ?? endpointLabel(url, i), deps.log, maxBatchCalls));
  const waiters: (() => void)[] = [];
  const release = () => waiters.splice(0).forEach((wake) => wake());

  const longOutageMs = deps.longOutageMs ?? LONG_OUTAGE_MS;
  const isUsable = (e: PoolEndpoint, now: number) =>
    !e.excluded &&
    e.benchedUntilMs <= now &&
    (e.breaker.state !== CircuitState.Open || (now - e.openedAtMs >= BREAKER_HALF_OPEN_AFTER_MS && isChainChecked(e, now)));

  /**
   * After a long outage an endpoint may come back serving another chain (a re-pointed URL): its
   * `eth_chainId` is checked before it serves again; a mismatch excludes it for good. Returns
   * whether the endpoint may be used now; starts the check in the background when needed.
   */
  function isChainChecked(e: PoolEndpoint, now: number): boolean {
    if (deps.chainId === undefined || e.downSinceMs === 0 || now - e.downSinceMs < longOutageMs || e.chainCheckedAfterOutage) return true;
    if (!e.chainCheckRunning && now >= e.nextChainCheckMs) {
      e.chainCheckRunning = true;
      e.nextChainCheckMs = now + BREAKER_HALF_OPEN_AFTER_MS;
      postBatch(e, [{ method: 'eth_chainId', params: [] }], { timeoutMs: deps.timeoutMs })
        .then(([outcome]) => {
          const served = servedChainId(unwrap(outcome!, e.label, 'eth_chainId'), e.label);
          if (served === deps.chainId) e.chainCheckedAfterOutage = true;
          else {
            e.excluded = true;
            deps.log.warn({ endpoint: e.label, expectedChainId: deps.chainId, servedChainId: served }, `endpoint-excluded: ${e.label} serves chain ${served}, not CHAIN_ID ${deps.chainId}`);
          }
        })
        .catch(() => undefined) // still down: checked again at the next half-open time
        .finally(() => {
          e.chainCheckRunning = false;
          release();
        });
    }
    return false;
  }

  /** Picks the best endpoint not in `tried` that can take a request now, waiting for a slot if all are busy. */
  async function acquire(tried: ReadonlySet<PoolEndpoint>, methods: readonly string[], signal?: AbortSignal): Promise<PoolEndpoint | null> {
    for (;;) {
      const now = Date.now();
      const candidates = endpoints.filter((e) => !tried.has(e) && isUsable(e, now) && !methods.some((m) => e.unsupported.has(m)));
      if (candidates.length === 0) return null;
      const free = candidates.filter((e) => e.inFlight < e.budget);
      if (free.length > 0) {
        const pick = random() < EXPLORATION_SHARE
          ? free[Math.floor(random() * free.length)]!
          : free.reduce((best, e) => (score(e) < score(best) ? e : best));
        pick.inFlight += 1;
        return pick;
      }
      if (signal?.aborted) throw new RpcTransientError('request cancelled');
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  }

  async function attempt<T>(endpoint: PoolEndpoint, requests: readonly RpcRequest[], accept: Accept<T>, signal?: AbortSignal, decode?: BodyDecoder): Promise<T> {
    const startedAt = Date.now();
    endpoint.requests += 1;
    try {
      const { outcomes, bodyBytes } = await endpoint.breaker.execute(async () => {
        const sent = await sendSized(endpoint, requests, deps.timeoutMs, signal, decode);
        const answered = sent.outcomes;
        const limited = answered.filter((o) => !o.ok && classifyRpcError(o.error) === 'rate-limit');
        const first = limited[0];
        if (first && !first.ok && limited.length === answered.length) {
          throw toRpcError('rate-limit', `${first.error.message} (code ${first.error.code})`, endpoint.label);
        }
        // Some calls rate-limited, others answered: a per-batch quota. Send smaller batches; the caller asks those calls again.
        if (limited.length > 0) {
          endpoint.maxBatchCalls = Math.max(1, Math.min(endpoint.maxBatchCalls, Math.floor(requests.length / 2)));
          endpoint.slowStart = false;
        }
        return sent;
      });
      rememberUnsupported(endpoint, requests, outcomes);
      const result = await accept(outcomes, endpoint.label, bodyBytes); // an async check (header proofs) counts as this endpoint's answer
      onSuccess(endpoint, Date.now() - startedAt, deps.log);
      deps.observer?.onRequest({ endpoint: endpoint.label, calls: countCalls(requests), durationMs: Date.now() - startedAt, failure: null });
      return result;
    } catch (thrown) {
      // Whatever failed (transport, answer, `accept`'s checks), its text may hold what the endpoint sent.
      const err = redactError(thrown, endpoint.redact);
      if (err instanceof DecodeThreadError) throw err; // not the endpoint's failure
      onFailure(endpoint, err, deps.log, Date.now() - startedAt);
      deps.observer?.onRequest({ endpoint: endpoint.label, calls: countCalls(requests), durationMs: Date.now() - startedAt, failure: failureKind(err) });
      throw err;
    } finally {
      endpoint.inFlight -= 1;
      release();
    }
  }

  async function batch<T>(requests: readonly RpcRequest[], accept: Accept<T>, signal?: AbortSignal, decode?: BodyDecoder, avoid?: ReadonlySet<string>): Promise<T> {
    if (endpoints.length === 0) throw new RpcTransientError('no RPC endpoint is configured');
    const methods = [...new Set(requests.map((r) => r.method))];
    const tried = new Set<PoolEndpoint>(avoid === undefined ? [] : endpoints.filter((e) => avoid.has(e.label)));
    let lastError: unknown;
    for (;;) {
      const endpoint = await acquire(tried, methods, signal);
      if (!endpoint) break;
      tried.add(endpoint);
      try {
        return await attempt(endpoint, requests, accept, signal, decode);
      } catch (err) {
        if (signal?.aborted || err instanceof DecodeThreadError) throw err;
        lastError = err;
        deps.log.debug({ endpoint: endpoint.label, err: errorText(err) }, 'rpc-failover');
      }
    }
    if (lastError === undefined) {
      // Endpoints whose answer was refused already (`avoid`) are not counted: when every other one refuses a method, the caller's fallback is the way on.
      const askable = endpoints.filter((e) => !avoid?.has(e.label));
      const refusing = askable.filter((e) => methods.some((m) => e.unsupported.has(m)));
      if (askable.length > 0 && refusing.length === askable.length) {
        throw new RpcUnsupportedError(`every endpoint refuses ${methods.filter((m) => refusing.every((e) => e.unsupported.has(m))).join(', ')}`);
      }
      const waitMs = Math.max(0, Math.min(...endpoints.map((e) => Math.max(e.benchedUntilMs, e.openedAtMs + BREAKER_HALF_OPEN_AFTER_MS) - Date.now())));
      const now = Date.now();
      const why = endpoints.map((e) => `${e.label}: ${avoid?.has(e.label) ? 'its answer refused already' : e.benchedUntilMs > now ? `benched ${e.benchReason}` : 'circuit open'}`).join(', ');
      throw new RpcTransientError(`no RPC endpoint is usable now (${why})`, { retryAfterMs: waitMs });
    }
    throw lastError;
  }

  async function broadcast<T>(requests: readonly RpcRequest[], accept: Accept<T>, signal?: AbortSignal, whyNot?: string[]): Promise<T[]> {
    const now = Date.now();
    const usable = endpoints.filter((e) => isUsable(e, now));
    for (const e of whyNot === undefined ? [] : endpoints) {
      if (usable.includes(e)) continue;
      const why = e.excluded ? 'excluded (serves another chain)'
        : e.benchedUntilMs > now ? `benched for ${Math.ceil((e.benchedUntilMs - now) / 1000)} s ${e.benchReason}`
          : now - e.openedAtMs >= BREAKER_HALF_OPEN_AFTER_MS ? 'not asked: its chain id is being checked again after a long outage'
            : `not asked: its circuit breaker is open after ${BREAKER_FAILURES} failures in a row (probed again within ${BREAKER_HALF_OPEN_AFTER_MS / 1000} s)`;
      whyNot!.push(`${e.label}: ${why}`);
    }
    const settled = await Promise.allSettled(
      usable.map(async (e) => {
        e.inFlight += 1;
        return attempt(e, requests, accept, signal);
      }),
    );
    settled.forEach((s, i) => {
      if (s.status !== 'rejected') return;
      const message = s.reason instanceof Error ? s.reason.message : String(s.reason);
      const label = usable[i]!.label;
      whyNot?.push(message.startsWith(label) ? message : `${label}: ${message}`); // the pool's errors name their endpoint first
    });
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  }

  const timer = setInterval(() => {
    for (const h of health()) deps.log.info(h, 'endpoint-health');
  }, HEALTH_LOG_INTERVAL_MS);
  timer.unref();

  function health(): EndpointHealth[] {
    const now = Date.now();
    return endpoints.map((e) => ({
      endpoint: e.label,
      requests: e.requests,
      errors: { ...e.errors },
      latencyMs: Math.round(e.latencyMs),
      breaker: e.breaker.state === CircuitState.Closed ? 'closed' : e.breaker.state === CircuitState.HalfOpen ? 'half-open' : 'open',
      inFlightBudget: e.budget,
      benchedForMs: Math.max(0, e.benchedUntilMs - now),
      maxBatchCalls: e.maxBatchCalls,
      unsupportedMethods: [...e.unsupported],
      excluded: e.excluded,
    }));
  }

  return {
    labels: endpoints.map((e) => e.label),
    batch,
    broadcast,
    refute: (label: string, why: string) => {
      const e = endpoints.find((x) => x.label === label);
      if (!e) return;
      // The latency penalty of a failure alone: its in-flight budget and slow start stay as they were.
      chargeFailure(e, 0);
      e.errors.RpcBadResponseError = (e.errors.RpcBadResponseError ?? 0) + 1;
      deps.log.debug({ endpoint: label, why }, 'rpc-answer-refuted');
    },
    usableCount: () => {
      const now = Date.now();
      return endpoints.filter((e) => isUsable(e, now)).length;
    },
    benchOtherFork: (label: string, why: string) => {
      const e = endpoints.find((x) => x.label === label);
      // Once per bench: the anchor's batch and the range's answers may find the same endpoint.
      if (e && endpoints.length > 1 && !(e.benchedUntilMs > Date.now() && e.benchReason === OTHER_FORK_REASON)) benchOnOtherFork(e, why, deps.log);
    },
    call: <T>(method: string, params: readonly unknown[], signal?: AbortSignal) =>
      batch([{ method, params }], (outcomes, label) => unwrap(outcomes[0]!, label, method) as T, signal),
    health,
    close: () => clearInterval(timer),
  };
}

function createEndpoint(url: string, label: string, log: Logger, batchCallsCap: number): PoolEndpoint {
  // Rate limits and refused methods are not failures of the endpoint: they bench it or skip it instead; nor is a decoder's failure.
  const breaker = circuitBreaker(
    handleWhen((err) => !(err instanceof RpcTransientError && err.rateLimited) && !(err instanceof RpcBatchTooLargeError) && !(err instanceof DecodeThreadError)),
    { halfOpenAfter: BREAKER_HALF_OPEN_AFTER_MS, breaker: new ConsecutiveBreaker(BREAKER_FAILURES) },
  );
  const endpoint: PoolEndpoint = {
    url, label, redact: createRedactor([url], [label]), breaker, openedAtMs: 0, inFlight: 0, budget: INITIAL_IN_FLIGHT_REQUESTS, slowStart: true, successesInRow: 0, latencyMs: 100,
    benchedUntilMs: 0, benchReason: '', rateLimitsInRow: 0, maxBatchCalls: batchCallsCap, batchCallsCap, slices: pLimit(SLICES_IN_FLIGHT), unsupported: new Set(), requests: 0, errors: {},
    excluded: false, downSinceMs: 0, chainCheckedAfterOutage: false, chainCheckRunning: false, nextChainCheckMs: 0,
  };
  breaker.onBreak(() => {
    endpoint.openedAtMs = Date.now();
    if (endpoint.downSinceMs === 0) {
      endpoint.downSinceMs = endpoint.openedAtMs;
      endpoint.chainCheckedAfterOutage = false;
    }
    log.warn({ endpoint: label, failures: BREAKER_FAILURES, halfOpenAfterMs: BREAKER_HALF_OPEN_AFTER_MS }, 'endpoint-benched');
  });
  breaker.onReset(() => {
    endpoint.downSinceMs = 0;
    log.info({ endpoint: label }, 'endpoint-recovered');
  });
  return endpoint;
}

/** Lower is better: latency, weighted up by how full the endpoint's budget is. */
function score(e: PoolEndpoint): number {
  return e.latencyMs * (1 + e.inFlight / e.budget);
}

/**
 * HTTP requests at once, per endpoint, for requests split into smaller batches (its `slices`
 * limiter, shared by all its attempts): a provider that takes 3 calls a batch would otherwise get
 * 50 requests per 50-block batch, times the attempts in flight. Requests that are not split do not
 * queue there (the endpoint's in-flight budget bounds them).
 */
const SLICES_IN_FLIGHT = 4;

/**
 * Sends `requests` in batches no larger than the endpoint takes (`maxBatchCalls`; when that splits
 * them, at most SLICES_IN_FLIGHT at once over the endpoint's attempts), and halves that size when the endpoint refuses a batch: HTTP 413, or
 * an answer in which a call failed with a batch-limit error (`classifyRpcError` 'batch-too-large':
 * go-ethereum answers "batch too large" for the first call and nothing for the others, Erigon one
 * error object for all). `bodyBytes` sums the answers' sizes.
 * The size halves from the size refused (attempts refused at the same time halve it once), and
 * the passes end: each sends smaller batches than the one before.
 * @throws RpcBatchTooLargeError when even single calls are refused so; whatever `postBatch` throws.
 */
async function sendSized(e: PoolEndpoint, requests: readonly RpcRequest[], timeoutMs: number, signal?: AbortSignal, decode?: BodyDecoder): Promise<{ outcomes: RpcOutcome[]; bodyBytes: number }> {
  let sent = requests.length; // calls per HTTP request in the pass that just ran
  for (;;) {
    try {
      let bodyBytes = 0;
      const onBody = (bytes: number) => { bodyBytes += bytes; };
      // A decoder handles a block only with its receipts in the same answer: with one, slices hold whole pairs of calls.
      const step = decode && e.maxBatchCalls > 1 ? e.maxBatchCalls - (e.maxBatchCalls % 2) : e.maxBatchCalls;
      const post = step > 1 ? decode?.post?.bind(decode) : undefined;
      const send = (slice: readonly RpcRequest[]) =>
        (post
          ? post(e, slice, { timeoutMs, ...(signal ? { signal } : {}) }).then(({ outcomes, bytes }) => { onBody(bytes); return outcomes; })
          : postBatch(e, slice, { timeoutMs, signal, onBody, ...(step > 1 ? { decode } : {}) })
        ).then((outcomes) => refuseBatchLimit(e, slice, redactOutcomes(e, outcomes)));
      sent = Math.min(step, requests.length);
      if (step >= requests.length) return { outcomes: await send(requests), bodyBytes };
      const slices: Promise<RpcOutcome[]>[] = [];
      for (let i = 0; i < requests.length; i += step) {
        const slice = requests.slice(i, i + step);
        slices.push(e.slices(() => send(slice)));
      }
      const answers = await Promise.allSettled(slices);
      const failed = answers.find((a) => a.status === 'rejected');
      if (failed) throw failed.reason;
      return { outcomes: answers.flatMap((a) => (a.status === 'fulfilled' ? a.value : [])), bodyBytes };
    } catch (err) {
      if (!(err instanceof RpcBatchTooLargeError) || sent <= 1) throw err;
      // From the size refused, not from the endpoint's current one: several attempts refused at once halve it once, not once each.
      e.maxBatchCalls = Math.min(e.maxBatchCalls, Math.max(1, Math.floor(sent / 2)));
    }
  }
}

/**
 * `outcomes` of the batch `requests` sent to `e`, unless a call failed with a batch-limit error.
 * @throws RpcBatchTooLargeError naming the endpoint, the batch's size and the endpoint's message.
 */
function refuseBatchLimit(e: PoolEndpoint, requests: readonly RpcRequest[], outcomes: RpcOutcome[]): RpcOutcome[] {
  for (const o of outcomes) {
    if (!o.ok && classifyRpcError(o.error) === 'batch-too-large') {
      throw new RpcBatchTooLargeError(`${e.label}: a batch of ${requests.length} calls refused: ${o.error.message} (code ${o.error.code})`);
    }
  }
  return outcomes;
}

/**
 * `outcomes` with the endpoint's secret URL parts removed from their JSON-RPC error messages
 * (`e.redact`), so no message built from them (`unwrap`, a refused batch, a rate limit, a call
 * `accept` keeps to ask again) holds them. Results are left as they are. Pure.
 */
function redactOutcomes(e: PoolEndpoint, outcomes: RpcOutcome[]): RpcOutcome[] {
  if (outcomes.every((o) => o.ok)) return outcomes;
  return outcomes.map((o) => (o.ok ? o : { ok: false, error: { ...o.error, message: e.redact(o.error.message) } }));
}

function rememberUnsupported(e: PoolEndpoint, requests: readonly RpcRequest[], outcomes: readonly RpcOutcome[]): void {
  outcomes.forEach((o, i) => {
    if (!o.ok && classifyRpcError(o.error) === 'unsupported') e.unsupported.add(requests[i]!.method);
  });
}

function onSuccess(e: PoolEndpoint, latencyMs: number, log: Logger): void {
  e.latencyMs = e.latencyMs * (1 - LATENCY_EWMA_WEIGHT) + latencyMs * LATENCY_EWMA_WEIGHT;
  if (e.rateLimitsInRow > 0) log.info({ endpoint: e.label, inFlightBudget: e.budget }, 'endpoint-recovered');
  e.rateLimitsInRow = 0;
  e.successesInRow += 1;
  // Slow start: a fresh endpoint reaches the most requests in flight within one round trip (8 → 16
  // after 8 answers), where one step per 20 answers took 160 (about 1 s of a mainnet backfill
  // with a 100 ms round trip fetching less than the writers could take).
  if (e.slowStart) e.budget = Math.min(MAX_IN_FLIGHT_REQUESTS, e.budget + 1);
  if (e.successesInRow % SUCCESSES_PER_BUDGET_STEP === 0) {
    e.budget = Math.min(MAX_IN_FLIGHT_REQUESTS, e.budget + 1);
    if (e.maxBatchCalls < e.batchCallsCap) e.maxBatchCalls = Math.min(e.batchCallsCap, e.maxBatchCalls * 2);
  }
}

/** A failure counts as a slow answer (at least FAILURE_LATENCY_PENALTY_MS), so a failing endpoint drops down the ranking. */
function chargeFailure(e: PoolEndpoint, elapsedMs: number): void {
  e.latencyMs = e.latencyMs * (1 - LATENCY_EWMA_WEIGHT) + Math.max(elapsedMs, FAILURE_LATENCY_PENALTY_MS) * LATENCY_EWMA_WEIGHT;
}

function onFailure(e: PoolEndpoint, err: unknown, log: Logger, elapsedMs: number): void {
  e.successesInRow = 0;
  e.slowStart = false;
  chargeFailure(e, elapsedMs);
  const kind = err instanceof RpcTransientError && err.rateLimited ? 'rate-limit' : err instanceof Error ? err.name : 'unknown';
  e.errors[kind] = (e.errors[kind] ?? 0) + 1;
  if (kind === 'rate-limit') {
    const retryAfterMs = (err as RpcTransientError).retryAfterMs;
    const benchMs = retryAfterMs ?? Math.min(RATE_LIMIT_BACKOFF_MAX_MS, RATE_LIMIT_BACKOFF_MS * 2 ** e.rateLimitsInRow);
    e.rateLimitsInRow += 1;
    e.budget = Math.max(1, Math.floor(e.budget / 2));
    // Never shortens a longer bench (another fork's).
    if (Date.now() + benchMs > e.benchedUntilMs) {
      e.benchedUntilMs = Date.now() + benchMs;
      e.benchReason = 'after a rate limit';
    }
    log.warn({ endpoint: e.label, benchMs, inFlightBudget: e.budget }, 'endpoint-rate-limited');
  }
}

/**
 * How long an endpoint found serving blocks of another fork than the endpoint with the highest
 * head is left out of every request, in ms: a node stuck on the losing side of a reorg serves
 * that side until it catches up, and any of its blocks would have to be rolled back.
 */
export const OTHER_FORK_BENCH_MS = 30_000;

const OTHER_FORK_REASON = 'on another fork';

/** Benches `e` for {@link OTHER_FORK_BENCH_MS}; `why` says which block and hashes (logged as `endpoint-on-other-fork`). */
function benchOnOtherFork(e: PoolEndpoint, why: string, log: Logger): void {
  if (Date.now() + OTHER_FORK_BENCH_MS <= e.benchedUntilMs) return; // benched longer already (a rate limit's Retry-After)
  e.benchedUntilMs = Date.now() + OTHER_FORK_BENCH_MS;
  e.benchReason = OTHER_FORK_REASON;
  log.warn({ endpoint: e.label, benchMs: OTHER_FORK_BENCH_MS, why }, 'endpoint-on-other-fork');
}

/** Calls per JSON-RPC method in a batch. Pure. */
function countCalls(requests: readonly RpcRequest[]): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const r of requests) calls[r.method] = (calls[r.method] ?? 0) + 1;
  return calls;
}

/**
 * What kind of failure an error of one pool attempt is, in the words of `classifyRpcError`, plus
 * 'circuit-open' for cockatiel's refusal while an endpoint's breaker is open. Pure.
 */
export function failureKind(err: unknown): RpcFailureKind | 'circuit-open' {
  if (err instanceof RpcTransientError) return err.rateLimited ? 'rate-limit' : 'transient';
  if (err instanceof RpcUnsupportedError) return 'unsupported';
  if (err instanceof RpcBatchTooLargeError) return 'batch-too-large';
  if (err instanceof RpcBadResponseError) return 'bad-response';
  if (isBrokenCircuitError(err) || isIsolatedCircuitError(err)) return 'circuit-open';
  return 'transient';
}

/**
 * Returns the result of one outcome. Pure.
 * @throws the classified error (RpcTransientError, RpcUnsupportedError, …) naming `label` and `method`.
 */
export function unwrap(outcome: RpcOutcome, label: string, method: string): unknown {
  if (outcome.ok) return outcome.result;
  const kind = classifyRpcError(outcome.error);
  throw toRpcError(kind, `${method} failed: ${outcome.error.message} (code ${outcome.error.code})`, label);
}

/**
 * The chain id of an `eth_chainId` answer (EIP-695: a hex quantity, e.g. `0x1`): a number, or its
 * decimal text when above 2^53 − 1 (printed whole, never equal to a configured `CHAIN_ID`).
 * @throws RpcBadResponseError naming the endpoint when the answer is not a hex quantity.
 */
export function servedChainId(result: unknown, label: string): number | string {
  if (typeof result !== 'string' || !/^0x[0-9a-f]+$/i.test(result)) {
    throw new RpcBadResponseError(`${label}: eth_chainId answered ${JSON.stringify(result)?.slice(0, 40) ?? String(result)}, not a hex quantity (EIP-695)`);
  }
  const id = BigInt(result);
  return id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : id.toString();
}

/**
 * Checks every endpoint's `eth_chainId` against `chainId` (EIP-155, EIP-695) and returns the URLs
 * that serve it, with their labels (`host#n`, n = position in `RPC_URL`). A mismatching endpoint is dropped with a warning naming it and both ids; an
 * unreachable one is kept with a warning (the pool fails over around it). Why an endpoint is
 * unreachable (its error message, in the warning and in the error) is redacted like every pool
 * error (`redactUrls`): no part of its URL that may be a key, even when the node repeats it.
 * `unreachable` maps the label of each kept endpoint that did not answer to why.
 * @throws ChainMismatchError when no endpoint serves `chainId` (none matched, or none answered).
 */
export async function checkChainIds(deps: { urls: readonly string[]; chainId: number; timeoutMs: number; log: Logger }): Promise<{ urls: string[]; labels: string[]; unreachable: ReadonlyMap<string, string> }> {
  const verdicts = await Promise.all(
    deps.urls.map(async (url, i) => {
      const label = endpointLabel(url, i);
      const redact = createRedactor([url], [label]);
      try {
        const [outcome] = await postBatch({ url, label }, [{ method: 'eth_chainId', params: [] }], { timeoutMs: deps.timeoutMs });
        const served = servedChainId(unwrap(outcome!, label, 'eth_chainId'), label);
        if (served !== deps.chainId) return { url, label, status: 'mismatch' as const, served };
        return { url, label, status: 'ok' as const };
      } catch (err) {
        // An endpoint that answered, but not a chain id, is not "unreachable": say what it did.
        const text = errorText(redactError(err, redact));
        // The pool's errors name their endpoint first: said once, before "unreachable".
        const reason = text.startsWith(`${label}: `) ? text.slice(label.length + 2) : text;
        return { url, label, status: 'unreachable' as const, answered: err instanceof RpcBadResponseError, reason };
      }
    }),
  );
  if (!verdicts.some((v) => v.status === 'ok')) {
    const details = verdicts
      .map((v) => (v.status === 'mismatch' ? `${v.label} serves chain ${v.served}` : v.status === 'unreachable' ? `${v.label} ${v.answered ? 'answered badly' : 'unreachable'}: ${v.reason}` : ''))
      .join('; ');
    throw new ChainMismatchError(`no RPC endpoint serves CHAIN_ID ${deps.chainId}: ${details}`);
  }
  // Warn per endpoint only when the worker goes on; otherwise the error above says it all, in one line.
  for (const v of verdicts) {
    if (v.status === 'mismatch') deps.log.warn({ endpoint: v.label, expectedChainId: deps.chainId, servedChainId: v.served }, `endpoint-excluded: ${v.label} serves chain ${v.served}, not CHAIN_ID ${deps.chainId}`);
    if (v.status === 'unreachable') deps.log.warn({ endpoint: v.label, err: v.reason }, 'endpoint-unreachable');
  }
  const kept = verdicts.filter((v) => v.status !== 'mismatch');
  return {
    urls: kept.map((v) => v.url),
    labels: kept.map((v) => v.label),
    unreachable: new Map(verdicts.flatMap((v) => (v.status === 'unreachable' ? [[v.label, v.reason] as const] : []))),
  };
}

/** Message of an error for logs; errors built here carry endpoint labels, never URLs. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
