/**
 * Whether a package's control belongs where the archive is about to put it:
 * the upload's source and version, the build's architecture and platform, a
 * binary the .changes announces. opkg trusts the index over the package, and
 * the index is made from these fields, so a package that disagrees is refused
 * rather than indexed. Pure functions over parsed control fields.
 */
import { ANY, isConcreteArchitecture, platformProblem, SRC } from '../formats/architecture.js';
import type { Stanza } from '../formats/control.js';
import { packageNameProblem, sourcePackageName } from '../formats/names.js';
import { versionProblem } from '../formats/version.js';
import { poolNameHasVersion, type PoolFileName } from './paths.js';

/** What the upload and the build say a binary must be. */
export interface BinaryExpectation {
  readonly source: string;
  readonly version: string;
  readonly architecture: string;
  readonly platform: string;
  /** The .changes Binary list; when empty, any valid name but `src-*` is allowed. */
  readonly binaries: readonly string[];
}

/** The section of packages whose control has no Section field. */
export const DEFAULT_SECTION = 'misc';

const SECTION = /^[a-z0-9][a-z0-9+.-]*$/;
const REQUIRED = ['Package', 'Version', 'Architecture', 'Platform'] as const;

/** Why a binary package's control does not fit the upload and build, or undefined when it does. */
export function binaryControlProblem(control: Stanza, expected: BinaryExpectation): string | undefined {
  const missing = missingField(control);
  if (missing !== undefined) return missing;
  const name = control.get('Package') as string;
  const nameProblem = packageNameProblem(name);
  if (nameProblem !== undefined) return `Package: ${nameProblem}`;
  if (name.startsWith('src-')) return `Package ${quote(name)} uses the prefix "src-", reserved for source packages`;
  if (expected.binaries.length > 0 && !expected.binaries.includes(name)) {
    return `Package ${quote(name)} is not a binary of this upload (the .changes lists ${expected.binaries.join(', ')})`;
  }
  const source = control.get('Source');
  if (source === undefined && name !== expected.source) {
    return `Package ${quote(name)} has no Source field and is not named after the upload's source ${quote(expected.source)}`;
  }
  if (source !== undefined && source !== expected.source) {
    return `Source ${quote(source)} is not the upload's source ${quote(expected.source)}`;
  }
  return (
    fieldProblem(control, 'Version', expected.version, "upload's version") ??
    fieldProblem(control, 'Architecture', expected.architecture, "build's architecture") ??
    fieldProblem(control, 'Platform', expected.platform, "build's platform") ??
    sectionProblem(control)
  );
}

/** Why a source package's control does not fit the upload, or undefined when it does. */
export function sourceControlProblem(control: Stanza, expected: { source: string; version: string }): string | undefined {
  const missing = missingField(control);
  if (missing !== undefined) return missing;
  const source = control.get('Source');
  if (source !== undefined && source !== expected.source) {
    return `Source ${quote(source)} is not the upload's source ${quote(expected.source)}`;
  }
  return (
    fieldProblem(control, 'Package', sourcePackageName(expected.source), 'source package name') ??
    fieldProblem(control, 'Version', expected.version, "upload's version") ??
    fieldProblem(control, 'Architecture', SRC, 'architecture of source packages') ??
    fieldProblem(control, 'Platform', 'all', 'platform of source packages') ??
    sectionProblem(control)
  );
}

/**
 * Why a package in the pool does not fit where it lies, or undefined when it
 * does: its name (paths.ts poolFileName) must be made from its control, in
 * the directory of its source, with names a feed path can be made of. What
 * the pool holds was checked when included; this finds what changed since.
 */
export function pooledControlProblem(control: Stanza, name: PoolFileName, sourceDirectory: string): string | undefined {
  const missing = missingField(control);
  if (missing !== undefined) return missing;
  const pkg = control.get('Package') as string;
  const version = control.get('Version') as string;
  const architecture = control.get('Architecture') as string;
  const platform = control.get('Platform') as string;
  const problem =
    packageNameProblem(pkg) ??
    versionProblem(version) ??
    (isConcreteArchitecture(architecture) ? undefined : `Architecture ${quote(architecture)} is not all, src or a real architecture`) ??
    platformProblem(platform) ??
    (platform === ANY ? 'Platform "any" is not a platform a package is built for' : undefined) ??
    sectionProblem(control);
  if (problem !== undefined) return problem;
  const named = `${pkg}_${version}_${architecture}_${platform}`;
  const fileNamed = `${name.package}_${name.version}_${name.architecture}_${name.platform}`;
  const fits = name.package === pkg && poolNameHasVersion(name, version) && name.architecture === architecture && name.platform === platform;
  if (!fits) return `the control says ${named}, the file name ${fileNamed}`;
  if (architecture === SRC) {
    return pkg === sourcePackageName(sourceDirectory) ? undefined : `a source package in the pool directory of ${quote(sourceDirectory)} must be ${quote(sourcePackageName(sourceDirectory))}`;
  }
  const source = control.get('Source') ?? pkg;
  return source === sourceDirectory ? undefined : `built from ${quote(source)} but in the pool directory of ${quote(sourceDirectory)}`;
}

/** The feed section a package goes to: its Section field, or DEFAULT_SECTION. Check sectionProblem first. */
export function sectionOf(control: Stanza): string {
  return control.get('Section') ?? DEFAULT_SECTION;
}

function sectionProblem(control: Stanza): string | undefined {
  const section = control.get('Section');
  if (section === undefined || SECTION.test(section)) return undefined;
  return `Section ${quote(section)} is not a section name ([a-z0-9][a-z0-9+.-]*)`;
}

function missingField(control: Stanza): string | undefined {
  const missing = REQUIRED.find((field) => (control.get(field) ?? '') === '');
  return missing === undefined ? undefined : `the control file has no ${missing} field`;
}

function fieldProblem(control: Stanza, field: string, expected: string, what: string): string | undefined {
  const value = control.get(field);
  return value === expected ? undefined : `${field} ${quote(value ?? '')} is not the ${what} ${quote(expected)}`;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}
