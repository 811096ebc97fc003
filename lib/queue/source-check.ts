/**
 * What accept checks of the source package itself, beyond the .changes: that
 * it is a safe opk (readOpk's checks), that its control names the upload
 * (`src-<source>`, the version, Architecture `src`), and that its data is one
 * SPF 2.0 tree under usr/src/<source>_<version>/ with format, control,
 * changelog and build. A package that fails never reaches a build queue,
 * where buildd could only record it as failed.
 */
import { describeError, FormatError } from '../errors.js';
import type { Changes } from '../formats/changes.js';
import { sourcePackageName } from '../formats/names.js';
import { versionForFileName } from '../formats/version.js';
import { readOpk } from '../opk/read.js';

const REQUIRED_FILES = ['format', 'control', 'changelog', 'build'] as const;

/**
 * Every reason the source package at `path` (named `name` in messages) is
 * unusable; empty when it is fine. Data inflating past `maxDataSize` bytes, when given, is one.
 */
export async function sourcePackageProblems(path: string, name: string, changes: Changes, maxDataSize?: number): Promise<string[]> {
  const tree = `usr/src/${changes.source}_${versionForFileName(changes.version)}`;
  const outside: string[] = [];
  const present = new Set<string>();
  let contents;
  try {
    contents = await readOpk(path, {
      maxDataSize,
      onDataEntry: (entry) => {
        if (entry.path === '.' || entry.path === 'usr' || entry.path === 'usr/src' || entry.path === tree) return;
        if (!entry.path.startsWith(`${tree}/`)) outside.push(entry.path);
        else if (entry.type === 'file') present.add(entry.path.slice(tree.length + 1));
      },
    });
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    return [`${name}: ${describeError(error).replace(`${path}: `, '')}`];
  }
  const problems: string[] = [];
  const control = contents.control;
  const expect = (field: string, wanted: string) => {
    const value = control.get(field);
    if (value !== wanted) problems.push(`${name}: control field ${field} is ${JSON.stringify(value ?? '')}, expected ${JSON.stringify(wanted)}`);
  };
  expect('Package', sourcePackageName(changes.source));
  expect('Version', changes.version);
  expect('Architecture', 'src');
  if (outside.length > 0) {
    problems.push(`${name}: ${outside.length} data entries outside ${tree}/, e.g. ${JSON.stringify(outside[0])}`);
  }
  const missing = REQUIRED_FILES.filter((file) => !present.has(file));
  if (missing.length > 0) problems.push(`${name}: ${tree}/ lacks ${missing.join(', ')} (not an SPF 2.0 source package)`);
  return problems;
}
