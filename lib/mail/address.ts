/**
 * Mail addresses from untrusted upload fields (Maintainer, Changed-By).
 *
 * Accepts exactly one mailbox, written `Name <user@host>`, `"Name" <user@host>`,
 * `<user@host>` or a bare `user@host`, and nothing else: no groups, no lists,
 * no comments after the address, no quoted local parts, no domain literals,
 * ASCII addresses only (a display name may be any text). Refusing is not an
 * error here: the caller leaves the recipient out and reports the reason, so a
 * bad field never stops a notice from reaching the other recipients.
 */

/** One mailbox; `address` is `local@domain`, `name` is plain text (never quoted or encoded). */
export interface Address {
  readonly name?: string;
  readonly address: string;
}

/** The longest field accepted, and the longest address SMTP carries (RFC 5321). */
const MAX_LENGTH = 254;
const MAX_LOCAL_PART = 64;
const MAX_DOMAIN = 253;

/** C0 and C1 controls, DEL, and the Unicode line and paragraph separators. */
const CONTROL = /[\p{Cc}\u2028\u2029]/u;
const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/** Characters that are RFC 5322 specials in an unquoted display name; `.` and `()` are common in names and kept. */
const NAME_SPECIAL = /[@:[\]\\<>]/;

/** Parses one address from an untrusted field: the address, or why it is refused (never throws). */
export function parseAddress(value: string): Address | string {
  if (/[\r\n]/.test(value)) return 'contains a line break';
  if (value.includes('\u0000')) return 'contains a NUL byte';
  if (CONTROL.test(value)) return 'contains a control character';
  const field = value.trim();
  if (field === '') return 'is empty';
  if (field.length > MAX_LENGTH) return `is longer than ${MAX_LENGTH} characters`;

  const scan = scanField(field);
  if (typeof scan === 'string') return scan;
  if (scan.separators > 0 || scan.openAngles > 1) return 'names more than one address';

  if (scan.openAngles === 0) {
    if (scan.quotes) return 'is not an address: a quoted name needs the address in <...>';
    if (/\s/.test(field)) {
      return field.split(/\s+/).filter((word) => word.includes('@')).length > 1
        ? 'names more than one address'
        : 'is not an address: a name needs the address in <...>';
    }
    const problem = addressProblem(field);
    return problem ?? { address: field };
  }

  const open = field.indexOf('<', scan.angleStart);
  const close = field.indexOf('>', open);
  if (close !== field.length - 1) return 'is not an address: text after the closing ">"';
  const address = field.slice(open + 1, close).trim();
  const problem = addressProblem(address);
  if (problem !== undefined) return problem;
  const name = displayName(field.slice(0, open));
  if (typeof name !== 'string') return name.problem;
  return name === '' ? { address } : { name, address };
}

/** Why `domain` is not a host name usable in an address or a Message-ID, or undefined when it is. */
export function domainProblem(domain: string): string | undefined {
  if (domain === '' || domain.length > MAX_DOMAIN) return 'has an invalid domain';
  return domain.split('.').every((label) => DOMAIN_LABEL.test(label)) ? undefined : 'has an invalid domain';
}

/** The addresses without repeats, compared case-insensitively on the address; the first spelling wins. */
export function uniqueAddresses(addresses: Iterable<Address>): Address[] {
  const seen = new Set<string>();
  const unique: Address[] = [];
  for (const address of addresses) {
    const folded = address.address.toLowerCase();
    if (seen.has(folded)) continue;
    seen.add(folded);
    unique.push(address);
  }
  return unique;
}

/** Whether two addresses name the same mailbox (case-insensitive, as `uniqueAddresses` compares). */
export function sameAddress(a: Address, b: Address): boolean {
  return a.address.toLowerCase() === b.address.toLowerCase();
}

interface FieldScan {
  /** `,` or `;` outside quotes: a list of addresses. */
  readonly separators: number;
  readonly openAngles: number;
  /** Offset where the unquoted `<` search starts: past the last quoted string. */
  readonly angleStart: number;
  readonly quotes: boolean;
}

/** Counts the structural characters outside quoted strings. */
function scanField(field: string): FieldScan | string {
  let separators = 0;
  let openAngles = 0;
  let angleStart = 0;
  let quotes = false;
  let inQuotes = false;
  for (let i = 0; i < field.length; i++) {
    const char = field[i];
    if (inQuotes) {
      if (char === '\\') i++;
      else if (char === '"') {
        inQuotes = false;
        angleStart = i + 1;
      }
      continue;
    }
    if (char === '"') {
      inQuotes = true;
      quotes = true;
    } else if (char === ',' || char === ';') separators++;
    else if (char === '<') openAngles++;
  }
  if (inQuotes) return 'is not an address: unterminated quoted name';
  return { separators, openAngles, angleStart, quotes };
}

/** Why `address` is not a plain `local@domain`, or undefined when it is. */
function addressProblem(address: string): string | undefined {
  if (address.length > MAX_LENGTH) return `is longer than ${MAX_LENGTH} characters`;
  const at = address.lastIndexOf('@');
  if (at < 0) return 'has no "@"';
  const local = address.slice(0, at);
  if (local.includes('@')) return 'is not an address: more than one "@"';
  if (local === '' || local.length > MAX_LOCAL_PART || !LOCAL_PART.test(local)) return 'has an invalid local part';
  return domainProblem(address.slice(at + 1));
}

/** The display name as plain text: quoted strings unquoted, blanks collapsed. */
function displayName(raw: string): string | { problem: string } {
  let name = '';
  let inQuotes = false;
  for (let i = 0; i < raw.length; i++) {
    const char = raw[i] as string;
    if (inQuotes) {
      if (char === '"') inQuotes = false;
      else if (char === '\\') name += raw[++i] ?? '';
      else name += char;
    } else if (char === '"') {
      inQuotes = true;
    } else if (NAME_SPECIAL.test(char)) {
      return { problem: `is not an address: "${char}" in the name; quote the name` };
    } else {
      name += char;
    }
  }
  return name.replace(/\s+/g, ' ').trim();
}
