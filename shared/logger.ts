/** The pino logger factory: create one at the process edge, pass children down. */
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

export interface LoggerOpts {
  /** process role, e.g. "head", "worker", "actor" */
  role: string;
  /** pino level; default from FLOTILLA_LOG_LEVEL or "info" */
  level?: string;
  /** extra bindings (node, job, actor, rank) */
  bindings?: Record<string, unknown>;
  /** write to this fd (default 1); actors log to stderr-free stdout of their own */
  destination?: number;
}

export function createLogger(opts: LoggerOpts): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? process.env.FLOTILLA_LOG_LEVEL ?? 'info',
    base: { role: opts.role, pid: process.pid, ...opts.bindings },
  };
  return pino(options, pino.destination({ dest: opts.destination ?? 1, sync: false }));
}

/** A logger that discards everything (tests, libraries' defaults). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
