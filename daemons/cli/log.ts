/**
 * One structured line per event on stderr, in logfmt (`key=value`), which
 * journald keeps as is and both people and log tools can read.
 */

export type LogFields = Record<string, string | number | boolean | undefined>;

/** Writes `program=<name> event=<event> key=value…`. */
export function logEvent(program: string, event: string, fields: LogFields = {}): void {
  const parts = [`program=${program}`, `event=${event}`];
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) parts.push(`${key}=${formatValue(value)}`);
  }
  process.stderr.write(`${parts.join(' ')}\n`);
}

function formatValue(value: string | number | boolean): string {
  const text = String(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}
