/**
 * Just enough of an RFC 5322 / MIME reader for the outbox tests, which check
 * folded header lines as written: headers unfolded, encoded words decoded
 * (also in X- fields, which mailparser leaves encoded), one level of
 * multipart, quoted-printable and base64 bodies.
 */

/** One MIME entity: its headers (lower-case names, every occurrence) and decoded body. */
export interface ParsedPart {
  readonly rawHeaders: string;
  readonly headers: Map<string, string[]>;
  readonly body: Buffer;
}

/** A parsed message: the root entity plus its parts when multipart. */
export interface ParsedMail extends ParsedPart {
  readonly parts: ParsedPart[];
  /** The first text/plain body without a filename, decoded as UTF-8. */
  readonly text: string;
}

/** The first value of a header, or undefined. */
export function header(part: ParsedPart, name: string): string | undefined {
  return part.headers.get(name.toLowerCase())?.[0];
}

/** Parses a whole .eml file. */
export function parseEml(raw: string): ParsedMail {
  const root = parseEntity(raw);
  const type = header(root, 'content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  const parts = boundary === undefined ? [] : splitMultipart(rawBody(raw), boundary).map(parseEntity);
  const textPart = [root, ...parts].find(
    (part) => /^text\/plain/i.test(header(part, 'content-type') ?? 'text/plain') && !header(part, 'content-disposition'),
  );
  return { ...root, parts, text: textPart?.body.toString('utf8') ?? '' };
}

/** The header section of a raw message, as written (folded). */
export function rawHeaderSection(raw: string): string {
  return raw.slice(0, raw.indexOf('\r\n\r\n'));
}

function rawBody(raw: string): string {
  return raw.slice(raw.indexOf('\r\n\r\n') + 4);
}

function parseEntity(raw: string): ParsedPart {
  const rawHeaders = rawHeaderSection(raw);
  const headers = new Map<string, string[]>();
  for (const line of rawHeaders.replace(/\r\n(?=[ \t])/g, '').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`not a header line: ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).toLowerCase();
    const value = decodeWords(line.slice(colon + 1).trim());
    headers.set(name, [...(headers.get(name) ?? []), value]);
  }
  const encoding = (headers.get('content-transfer-encoding')?.[0] ?? '7bit').toLowerCase();
  return { rawHeaders, headers, body: decodeBody(rawBody(raw), encoding) };
}

function splitMultipart(body: string, boundary: string): string[] {
  const delimiter = `--${boundary}`;
  return body
    .split(new RegExp(`(?:^|\\r\\n)${escapeRegExp(delimiter)}(?:--)?[ \\t]*\\r\\n`))
    .slice(1)
    .filter((part) => part.trim() !== '' && !part.startsWith('--'));
}

function decodeBody(body: string, encoding: string): Buffer {
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64');
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(body);
  return Buffer.from(body, 'utf8');
}

function decodeQuotedPrintable(text: string): Buffer {
  const unfolded = text.replace(/=\r\n/g, '').replace(/\r\n/g, '\n');
  const bytes: number[] = [];
  for (let i = 0; i < unfolded.length; i++) {
    const char = unfolded[i] as string;
    if (char === '=' && /^[0-9A-Fa-f]{2}$/.test(unfolded.slice(i + 1, i + 3))) {
      bytes.push(parseInt(unfolded.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(char, 'utf8'));
    }
  }
  return Buffer.from(bytes);
}

/** RFC 2047 encoded words, Q and B; the blank between two adjacent words is dropped. */
function decodeWords(value: string): string {
  return value
    .replace(/(=\?[^?]+\?[QqBb]\?[^?]*\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_match, _charset: string, kind: string, data: string) =>
      kind.toUpperCase() === 'B'
        ? Buffer.from(data, 'base64').toString('utf8')
        : decodeQuotedPrintable(data.replace(/_/g, ' ')).toString('utf8'),
    );
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
