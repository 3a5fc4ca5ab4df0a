// The process logger: pino, JSON lines on stdout, with secrets censored before a line is written
// (DESIGN.md "Guarantees": no secret in logs). Code outside this folder accepts the narrow `Logger`
// interface, so tests and embedders can pass anything with these four methods.

import { type DestinationStream, type Logger as PinoLogger, pino } from 'pino';
import type { Config } from '../config/index.js';
import { createPrettyStream } from './pretty-stream.js';
import { censor, extraRedactPaths, REDACT_PATHS } from './redaction.js';

/** LOG_LEVEL: fatal, error, warn, info, debug, trace or silent. */
export type LogLevel = Config['LOG_LEVEL'];

/** A structured log call: the fields first, then the message, as pino takes them. */
export type LogMethod = (fields: object, msg?: string) => void;

/** What the rest of the code needs from a logger; a pino logger is one. */
export interface Logger {
  error: LogMethod;
  warn: LogMethod;
  info: LogMethod;
  debug: LogMethod;
}

export interface CreateLoggerOptions {
  /** LOG_LEVEL. */
  level: LogLevel;
  /**
   * One readable line per entry instead of JSON; for `dcr-provisioner demo` only, since log pipelines
   * parse JSON. @defaultValue false
   */
  pretty?: boolean;
  /** Where lines go (tests capture them here). @defaultValue stdout */
  destination?: DestinationStream;
  /** Fields added to every line, e.g. `{ component: 'worker' }`. */
  fields?: Record<string, unknown>;
  /** Further keys censored like SECRET_KEYS, e.g. the header names of SERVER_HEADERS (see secretKeysFromConfig). */
  secretKeys?: Iterable<string>;
}

/** The configuration's secret keys for the logger: every header name SERVER_HEADERS sets. */
export function secretKeysFromConfig(config: Pick<Config, 'SERVER_HEADERS'>): string[] {
  return Object.values(config.SERVER_HEADERS ?? {}).flatMap((headers) => Object.keys(headers));
}

export function createLogger(options: CreateLoggerOptions): PinoLogger {
  const settings = {
    level: options.level,
    redact: { paths: [...REDACT_PATHS, ...extraRedactPaths(options.secretKeys ?? [])], censor },
    // ISO time, so a line read by a person or grep needs no conversion.
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const destination = options.pretty
    ? createPrettyStream(options.destination ? { out: options.destination } : {})
    : options.destination;
  // Without a destination pino's own stdout writer is used; it flushes on exit, so the shutdown line survives.
  const logger = destination ? pino(settings, destination) : pino(settings);
  return options.fields ? logger.child(options.fields) : logger;
}
