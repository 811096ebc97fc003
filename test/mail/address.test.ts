import { describe, expect, it } from 'vitest';
import { domainProblem, parseAddress, sameAddress, uniqueAddresses } from '../../lib/mail/address.js';

describe('parseAddress', () => {
  it.each([
    ['jane@example.org', { address: 'jane@example.org' }],
    ['  jane@example.org  ', { address: 'jane@example.org' }],
    ['<jane@example.org>', { address: 'jane@example.org' }],
    ['Jane Doe <jane@example.org>', { name: 'Jane Doe', address: 'jane@example.org' }],
    ['Jane   Doe<jane@example.org>', { name: 'Jane Doe', address: 'jane@example.org' }],
    ['"Doe, Jane" <jane@example.org>', { name: 'Doe, Jane', address: 'jane@example.org' }],
    ['"Jane \\"JD\\" Doe" <jane@example.org>', { name: 'Jane "JD" Doe', address: 'jane@example.org' }],
    ['"a <b@c>" <jane@example.org>', { name: 'a <b@c>', address: 'jane@example.org' }],
    ['J. R. Doe (uploader) <j.r+opk@mail.example.org>', { name: 'J. R. Doe (uploader)', address: 'j.r+opk@mail.example.org' }],
    ['Jürgen Müller <jm@example.de>', { name: 'Jürgen Müller', address: 'jm@example.de' }],
    ['root@localhost', { address: 'root@localhost' }],
  ])('accepts %j', (input, expected) => {
    expect(parseAddress(input)).toEqual(expected);
  });

  it.each([
    ['Evil <a@b>\r\nBcc: victim@x', 'contains a line break'],
    ['a@b\nBcc: c@d', 'contains a line break'],
    ['a@b\r', 'contains a line break'],
    ['a@b\u0000', 'contains a NUL byte'],
    ['Jane\tDoe <a@b>', 'contains a control character'],
    ['Jane\u0085 <a@b>', 'contains a control character'],
    ['Jane\u2028 <a@b>', 'contains a control character'],
    ['', 'is empty'],
    ['   ', 'is empty'],
    ['jane.example.org', 'has no "@"'],
    ['Jane <jane.example.org>', 'has no "@"'],
    ['a@b, c@d', 'names more than one address'],
    ['Jane <a@b>; Joe <c@d>', 'names more than one address'],
    ['Jane <a@b> <c@d>', 'names more than one address'],
    ['a@b c@d', 'names more than one address'],
    ['group: a@b;', 'names more than one address'],
    ['Jane Doe jane@example.org', 'is not an address: a name needs the address in <...>'],
    ['"Jane" jane@example.org', 'is not an address: a quoted name needs the address in <...>'],
    ['Jane <a@b> trailing', 'is not an address: text after the closing ">"'],
    ['"Jane <a@b>', 'is not an address: unterminated quoted name'],
    ['a@b@c', 'is not an address: more than one "@"'],
    ['@example.org', 'has an invalid local part'],
    ['a..b@example.org', 'has an invalid local part'],
    ['"quoted local"@example.org', 'is not an address: a quoted name needs the address in <...>'],
    ['a@', 'has an invalid domain'],
    ['a@-bad.org', 'has an invalid domain'],
    ['a@ex..org', 'has an invalid domain'],
    ['a@[127.0.0.1]', 'has an invalid domain'],
    ['x@y <a@b>', 'is not an address: "@" in the name; quote the name'],
    ['Jane: <a@b>', 'is not an address: ":" in the name; quote the name'],
  ])('refuses %j', (input, reason) => {
    expect(parseAddress(input)).toBe(reason);
  });

  it('refuses a field over 254 characters, and an over-long local part', () => {
    const long = `${'a'.repeat(64)}@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.org`;
    expect(parseAddress(long)).toEqual({ address: long });
    expect(parseAddress(`Name <${long}>`)).toBe('is longer than 254 characters');
    expect(parseAddress(`${'x'.repeat(65)}@example.org`)).toBe('has an invalid local part');
  });
});

describe('uniqueAddresses', () => {
  it('drops repeats case-insensitively, keeping the first spelling and name', () => {
    const list = [
      { name: 'Jane', address: 'Jane@Example.org' },
      { address: 'joe@example.org' },
      { name: 'Other', address: 'jane@example.ORG' },
    ];
    expect(uniqueAddresses(list)).toEqual([list[0], list[1]]);
    expect(sameAddress({ address: 'A@B' }, { address: 'a@b' })).toBe(true);
  });
});

describe('domainProblem', () => {
  it('accepts host names and refuses the rest', () => {
    expect(domainProblem('farm.example.org')).toBeUndefined();
    expect(domainProblem('farm_example')).toBe('has an invalid domain');
    expect(domainProblem('')).toBe('has an invalid domain');
  });
});
