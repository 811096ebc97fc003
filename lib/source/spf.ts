/**
 * Reading an SPF 2.0 source package directory: `format`, `control`,
 * `changelog`, the `build` makefile and one `<binpkg>.pkg/` directory per
 * binary package. Every problem is a FormatError naming the file at fault, so
 * a maintainer knows what to fix before uploading.
 */
import { lstat, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from '../errors.js';
import { architectureProblem, platformProblem, SRC } from '../formats/architecture.js';
import { parseChangelogEntry, type ChangelogEntry } from '../formats/changelog.js';
import { listValue, parseSingleStanza, type Stanza } from '../formats/control.js';
import { packageNameProblem } from '../formats/names.js';

export interface BinaryPackageSpec {
  readonly name: string;
  /** The `<binpkg>.pkg/control` fields (Architecture, Platform, Description, …). */
  readonly control: Stanza;
  readonly architectures: readonly string[];
  readonly platforms: readonly string[];
}

export interface SourceDirectory {
  readonly directory: string;
  /** Source fields: Maintainer, Build-Depends, Homepage, … */
  readonly control: Stanza;
  readonly changelog: ChangelogEntry;
  /** Sorted by name. */
  readonly binaryPackages: readonly BinaryPackageSpec[];
}

const VERSION_CONTROL_NAMES: ReadonlySet<string> = new Set(['.git', '.svn', '.hg', '.bzr', 'CVS']);

/**
 * Whether a path (as components relative to the source directory) belongs to
 * the build work area `tmp/` or to version control, never to the source package.
 */
export function isExcludedFromSource(components: readonly string[]): boolean {
  return components[0] === 'tmp' || components.some((name) => VERSION_CONTROL_NAMES.has(name));
}

/** Reads and validates a source package directory. */
export async function readSourceDirectory(directory: string): Promise<SourceDirectory> {
  const formatFile = join(directory, 'format');
  const format = await readText(formatFile, 'missing: not an SPF 2.0 source package directory');
  if (format.trim() !== '2.0') {
    throw problem(formatFile, `source package format is ${JSON.stringify(format.trim())}, only "2.0" is supported`);
  }

  const controlFile = join(directory, 'control');
  const control = parseSingleStanza(await readText(controlFile, 'missing'), { file: controlFile, allowComments: true });
  if (!control.get('Maintainer')) throw problem(controlFile, 'required field "Maintainer" is missing');

  const changelogFile = join(directory, 'changelog');
  const changelog = parseChangelogEntry(await readText(changelogFile, 'missing'), changelogFile);

  await checkBuildMakefile(join(directory, 'build'));
  return { directory, control, changelog, binaryPackages: await readBinaryPackages(directory) };
}

async function readBinaryPackages(directory: string): Promise<BinaryPackageSpec[]> {
  // Sorted by package name, not by entry name: "hello" comes before "hello-doc", though "hello-doc.pkg" sorts before "hello.pkg".
  const names = (await readdir(directory))
    .filter((entry) => entry.endsWith('.pkg'))
    .map((entry) => entry.slice(0, -'.pkg'.length))
    .sort();
  const packages: BinaryPackageSpec[] = [];
  for (const name of names) {
    const entry = `${name}.pkg`;
    const nameProblem =
      packageNameProblem(name) ?? (name.startsWith('src-') ? `binary package name "${name}" uses the reserved prefix "src-"` : undefined);
    if (nameProblem !== undefined) throw problem(join(directory, entry), nameProblem);
    const controlFile = join(directory, entry, 'control');
    const control = parseSingleStanza(await readText(controlFile, 'missing'), { file: controlFile, allowComments: true });
    packages.push({
      name,
      control,
      architectures: checkedList(control, 'Architecture', controlFile, binaryArchitectureProblem),
      platforms: control.has('Platform') ? checkedList(control, 'Platform', controlFile, platformProblem) : ['all'],
    });
    if (!control.get('Description')) throw problem(controlFile, 'required field "Description" is missing', control);
  }
  if (packages.length === 0) throw problem(directory, 'no <binpkg>.pkg directory: the source package builds nothing');
  return packages;
}

function checkedList(
  control: Stanza,
  field: string,
  file: string,
  check: (value: string) => string | undefined,
): string[] {
  const values = listValue(control.get(field));
  if (values.length === 0) throw problem(file, `required field "${field}" is missing or empty`, control, field);
  for (const value of values) {
    const reason = check(value);
    if (reason !== undefined) throw problem(file, `${field}: ${reason}`, control, field);
  }
  return values;
}

/** `src` is the source package's own architecture, never a binary package's. */
function binaryArchitectureProblem(name: string): string | undefined {
  if (name === SRC) return `architecture "${SRC}" is reserved for source packages`;
  return architectureProblem(name);
}

/** SPF 2.0 asks for an executable makefile whose first line names make. */
async function checkBuildMakefile(file: string): Promise<void> {
  const text = await readText(file, 'missing: the build makefile is required');
  const stats = await lstat(file);
  if ((stats.mode & 0o111) !== 0o111) {
    throw problem(file, `must be executable by all users (mode 0755), is ${(stats.mode & 0o7777).toString(8).padStart(4, '0')}`);
  }
  const first = text.split('\n', 1)[0] ?? '';
  if (!/^#!\s*\/\S*make\s+-f\s*$/.test(first)) {
    throw problem(file, `first line must be "#! /usr/bin/make -f", is ${JSON.stringify(first)}`);
  }
}

/** Reads a regular file of the source package; symlinks and other types are refused. */
async function readText(file: string, missing: string): Promise<string> {
  let stats;
  try {
    stats = await lstat(file);
  } catch (error) {
    // ENOTDIR: a `<name>.pkg` that is a file, not a directory, has no control file either.
    const { code } = error as NodeJS.ErrnoException;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw problem(file, missing);
    throw error;
  }
  if (!stats.isFile()) throw problem(file, 'not a regular file');
  return readFile(file, 'utf8');
}

function problem(file: string, detail: string, control?: Stanza, field?: string): FormatError {
  return new FormatError('source.malformed', file, detail, field ? control?.lineOf(field) : undefined);
}
