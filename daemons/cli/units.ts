/** Sizes, ages and untrusted text as the programs print them. */
import { formatSize as formatLibSize } from '../../lib/units.js';

/** `812 B`, `12.3 KiB`, `3.0 MiB`: lib/units.ts's sizes, with bytes as `B` for narrow columns. */
export function formatSize(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : formatLibSize(bytes);
}

/** `45 s`, `12 min`, `5 h`, `3 d`: the largest unit that fits, rounded down. */
export function formatAge(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86_400)} d`;
}

/**
 * Text an uploader wrote (a .changes, a name), safe for a reviewer's
 * terminal: control characters other than newline and tab are shown as
 * `\xNN`, so an upload cannot move the cursor or rewrite what is on screen.
 */
export function printable(text: string, options: { newlines?: boolean } = {}): string {
  let result = '';
  for (const character of text) {
    const code = character.codePointAt(0) ?? 0;
    const control = code < 0x20 || (code >= 0x7f && code <= 0x9f);
    const allowed = options.newlines === true && (character === '\n' || character === '\t');
    result += control && !allowed ? `\\x${code.toString(16).padStart(2, '0')}` : character;
  }
  return result;
}
