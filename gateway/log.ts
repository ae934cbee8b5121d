import { pino, type Logger, type DestinationStream, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Redaction is the safety net, not the control: components log ids, hashes, sizes and codes only.
 * These paths catch the mistakes (explicit paths; wildcards cost ~50% in pino's measurements).
 */
export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]',
  'headers.authorization', 'authorization', 'token',
  'body', 'payload', 'resource', 'raw.body', 'record.resource', 'message', 'segment', 'row', 'text',
  '*.body', '*.payload', '*.resource', '*.segment', '*.row',
] as const;

/** What a raw message may show in a log line. */
export function rawSummary(raw: { id: string; feed: string; format: string; body: Uint8Array; sha256: string }): Record<string, unknown> {
  return { id: raw.id, feed: raw.feed, format: raw.format, bytes: raw.body.length, sha256: raw.sha256 };
}

/**
 * The one root logger. Components get `log.child({ component })` through their constructor.
 * @param destination - a stream (tests pass an in-memory sink); stdout by default
 */
export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  const config: LoggerOptions = {
    level: options.level,
    redact: { paths: [...REDACT_PATHS], censor: '[PHI]' },
    base: { service: 'passerelle' },
    serializers: {
      err: (err: unknown) => {
        const base = pino.stdSerializers.err(err as Error);
        const code = (err as { code?: unknown }).code;
        return typeof code === 'string' ? { ...base, code } : base;
      },
    },
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}

const LEVEL_NAMES = new Map([[10, 'trace'], [20, 'debug'], [30, 'info'], [40, 'warn'], [50, 'error'], [60, 'fatal']] as const);

/**
 * Writes a line a thread's logger produced (JSON, already redacted there) through this logger, so
 * a worker thread's logs reach the same destination, with the same base fields, as the main
 * thread's. Lines that do not parse are dropped: they cannot be checked for content.
 */
export function relayLogLine(log: Logger, line: string): void {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return;
  }
  const { level, msg, time: _time, pid: _pid, hostname: _hostname, service: _service, ...fields } = entry;
  const name = LEVEL_NAMES.get(level as 10) ?? 'info';
  log[name](fields, typeof msg === 'string' ? msg : '');
}
