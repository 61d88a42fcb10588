import { pino, type Logger as PinoLogger } from 'pino';

/** The structured logger every layer receives (pino). Events are kebab-case (`batch-stored`). */
export type Logger = PinoLogger;

/**
 * Creates the process logger: JSON lines on stdout, or one readable line per event (pino-pretty)
 * when stdout is a terminal or `pretty` is true. `base` fields go on every line (instance id);
 * `mixin`'s fields too, computed per line (the worker adds the calling workflow's id there). A
 * mixin must not throw.
 */
export function createLogger(options: { level: string; base?: Record<string, unknown>; pretty?: boolean; mixin?: () => Record<string, unknown> }): Logger {
  const pretty = options.pretty ?? Boolean(process.stdout.isTTY);
  return pino({
    level: options.level,
    base: options.base ?? {},
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: pino.stdSerializers.err },
    ...(options.mixin ? { mixin: options.mixin } : {}),
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname', singleLine: true } } } : {}),
  });
}

/**
 * The chain a line of Temporal's (a workflow's log, a worker's state) is about, for a worker of
 * several chains: from its workflow id (`chain-sync:<id>`, `backfill:<id>:…`, `verify:<id>:…`),
 * else from its task queue (`chainOfQueue`); null when neither says. Pure.
 * @example temporalLogChainId({ workflowId: 'chain-sync:10', taskQueue: 'evm-indexer-10' }, new Map()) // 10
 */
export function temporalLogChainId(meta: Record<string, unknown>, chainOfQueue: ReadonlyMap<string, number>): number | null {
  const fromId = typeof meta.workflowId === 'string' ? /^(?:chain-sync|backfill|verify):(\d+)(?::|$)/.exec(meta.workflowId)?.[1] : undefined;
  if (fromId !== undefined) return Number(fromId);
  return typeof meta.taskQueue === 'string' ? chainOfQueue.get(meta.taskQueue) ?? null : null;
}
