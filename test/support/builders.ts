/**
 * A trivial external builder for pipeline tests (Builder: command, see
 * lib/build/command.ts for how buildd calls it): a `#!/bin/sh` script that
 * runs a small Node program writing one tiny, valid opk per requested binary
 * package with opkfarm's own writer (dist/lib/opk/write.js), then appends
 * `<source> <arch> <plat>` to a counter file, so a test can count builds.
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const DIST_LIB = new URL('../../dist/lib/', import.meta.url);

export interface BuilderSpec {
  /** Directory for the script and the program. */
  readonly directory: string;
  /** File that gets one line `<source> <arch> <plat>` per finished build. */
  readonly counter: string;
  /** Builds for this architecture fail (exit 1) after printing why. */
  readonly failArchitecture?: string;
  /**
   * The first build sleeps: when `marker` is absent the script creates it,
   * writes its pid (its process group's id: buildd starts builders as group
   * leaders) to `pidFile`, creates `started` and sleeps `seconds`.
   */
  readonly slowFirstBuild?: { readonly marker: string; readonly pidFile: string; readonly started: string; readonly seconds: number };
}

/** Writes the builder and returns the path of its script (the Builder-Command). */
export async function writeCommandBuilder(spec: BuilderSpec): Promise<string> {
  const program = join(spec.directory, 'make-opk.mjs');
  const script = join(spec.directory, 'builder.sh');
  await writeFile(program, builderProgram(spec.counter));
  const lines = [
    '#!/bin/sh',
    'set -e',
    'echo "builder: $OPKFARM_SOURCE $OPKFARM_VERSION $OPKFARM_ARCHITECTURE $OPKFARM_PLATFORM: $OPKFARM_PACKAGES"',
  ];
  if (spec.failArchitecture !== undefined) {
    lines.push(
      `if [ "$OPKFARM_ARCHITECTURE" = ${shellQuote(spec.failArchitecture)} ]; then`,
      '  echo "builder: cannot build for $OPKFARM_ARCHITECTURE" >&2',
      '  exit 1',
      'fi',
    );
  }
  if (spec.slowFirstBuild !== undefined) {
    const slow = spec.slowFirstBuild;
    lines.push(
      `if [ ! -e ${shellQuote(slow.marker)} ]; then`,
      `  : > ${shellQuote(slow.marker)}`,
      `  echo $$ > ${shellQuote(slow.pidFile)}`,
      `  : > ${shellQuote(slow.started)}`,
      `  sleep ${slow.seconds}`,
      'fi',
    );
  }
  lines.push(`exec ${shellQuote(process.execPath)} ${shellQuote(program)} "$@"`, '');
  await writeFile(script, lines.join('\n'));
  await chmod(script, 0o755);
  return script;
}

function builderProgram(counter: string): string {
  const writeUrl = new URL('opk/write.js', DIST_LIB).href;
  const controlUrl = new URL('formats/control.js', DIST_LIB).href;
  return `// Written by test/support/builders.ts: buildd's external builder for tests.
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeOpk } from ${JSON.stringify(writeUrl)};
import { Stanza } from ${JSON.stringify(controlUrl)};

const [, , , architecture, platform, output] = process.argv;
const { OPKFARM_SOURCE: source, OPKFARM_VERSION: version, OPKFARM_PACKAGES: packages } = process.env;
for (const name of packages.split(' ')) {
  const data = join(process.cwd(), name + '.data');
  await mkdir(join(data, 'usr', 'share', name), { recursive: true });
  await writeFile(join(data, 'usr', 'share', name, 'built-for'), architecture + ' ' + platform + '\\n');
  await writeOpk({
    destination: join(output, [name, version, architecture, platform].join('_') + '.opk'),
    control: new Stanza([
      ['Package', name],
      ['Source', source],
      ['Version', version],
      ['Architecture', architecture],
      ['Platform', platform],
      ['Maintainer', 'Test Maintainer <maintainer@example.org>'],
      ['Description', 'test package ' + name],
    ]),
    dataDirectory: data,
    sourceDateEpoch: 1_700_000_000,
  });
  console.log('builder: wrote ' + name);
}
await appendFile(${JSON.stringify(counter)}, [source, architecture, platform].join(' ') + '\\n');
`;
}

/** The lines of the counter file, sorted ([] when no build finished). */
export async function countedBuilds(counter: string): Promise<string[]> {
  const text = await readFile(counter, 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line !== '').sort();
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
