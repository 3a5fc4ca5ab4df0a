// Human-readable log lines for the demo: pino writes its JSON line here and this prints
// `12:00:00.123 INFO  message key=value ...` instead. Small on purpose, so pino-pretty is not a
// dependency; redaction has already happened by the time a line arrives.

import type { DestinationStream } from 'pino';

export interface PrettyStreamOptions {
  /** Where the formatted lines go. @defaultValue process.stdout */
  out?: { write(chunk: string): unknown; isTTY?: boolean };
  /** Colour the level with ANSI codes. @defaultValue whether `out` is a terminal */
  colors?: boolean;
}

const LEVELS: Record<number, { label: string; color: string }> = {
  10: { label: 'TRACE', color: '\u001b[90m' },
  20: { label: 'DEBUG', color: '\u001b[36m' },
  30: { label: 'INFO', color: '\u001b[32m' },
  40: { label: 'WARN', color: '\u001b[33m' },
  50: { label: 'ERROR', color: '\u001b[31m' },
  60: { label: 'FATAL', color: '\u001b[35m' },
};
const RESET = '\u001b[0m';

/** Fields every line has, shown in the prefix or not at all. */
const OMITTED = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

export function createPrettyStream(options: PrettyStreamOptions = {}): DestinationStream {
  const out = options.out ?? process.stdout;
  const colors = options.colors ?? out.isTTY === true;
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n'))
        if (line.trim() !== '') out.write(`${formatLine(line, colors)}\n`);
    },
  };
}

/** One pino JSON line as text; a line that is not JSON is passed through unchanged. */
export function formatLine(line: string, colors = false): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = LEVELS[Number(record.level)] ?? { label: String(record.level ?? ''), color: '' };
  const label = level.label.padEnd(5);
  const parts = [
    clock(record.time),
    colors && level.color ? `${level.color}${label}${RESET}` : label,
    typeof record.msg === 'string' ? record.msg : '',
  ];
  let stack = '';
  for (const [name, value] of Object.entries(record)) {
    if (OMITTED.has(name) || value === undefined) continue;
    if (name === 'err' && typeof value === 'object' && value !== null && 'stack' in value) {
      stack = `\n    ${String((value as { stack: unknown }).stack).replace(/\n/g, '\n    ')}`;
      continue;
    }
    parts.push(`${name}=${text(value)}`);
  }
  return parts.filter((p) => p !== '').join(' ') + stack;
}

function clock(time: unknown): string {
  const date = typeof time === 'number' || typeof time === 'string' ? new Date(time) : new Date();
  return Number.isNaN(date.getTime()) ? '' : date.toISOString().slice(11, 23);
}

/** Bare when unambiguous, JSON (quoted) when the value has spaces, quotes or structure. */
function text(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}
