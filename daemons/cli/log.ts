/**
 * One structured line per event on stderr, which journald keeps as is:
 * `text` is logfmt (`program=buildd event=built key=value…`), for people and
 * grep; `json` is one JSON object per line with `ts` (ISO 8601), `program`,
 * `event` and the event's fields, for log tools. Daemons choose with
 * --log-format (daemon-options.ts).
 */
import { parseUploadKey } from '../../lib/layout.js';

export type LogFields = Record<string, string | number | boolean | undefined>;

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

let format: LogFormat = 'text';

/** Sets the format of every later line of this process. */
export function setLogFormat(chosen: LogFormat): void {
  format = chosen;
}

/** Writes one event line; fields whose value is undefined are left out. */
export function logEvent(program: string, event: string, fields: LogFields = {}): void {
  process.stderr.write(`${format === 'json' ? jsonLine(program, event, fields) : textLine(program, event, fields)}\n`);
}

function textLine(program: string, event: string, fields: LogFields): string {
  const parts = [`program=${program}`, `event=${event}`];
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) parts.push(`${key}=${formatValue(value)}`);
  }
  return parts.join(' ');
}

function jsonLine(program: string, event: string, fields: LogFields): string {
  // The fixed keys first and not overridable by a field of the same name.
  return JSON.stringify({ ...fields, ts: new Date().toISOString(), program, event }, ['ts', 'program', 'event', ...Object.keys(fields)]);
}

function formatValue(value: string | number | boolean): string {
  const text = String(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

/** The source and version an upload key names, as event fields (none for a name that is not a key). */
export function uploadFields(key: string): { source?: string; version?: string } {
  const parsed = parseUploadKey(key);
  return parsed === undefined ? {} : { source: parsed.source, version: parsed.version };
}
