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
