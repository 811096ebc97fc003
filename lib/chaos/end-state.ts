/**
 * What a farm must look like once it has drained, judged from the files
 * alone (issue 9; PIPELINE.md I1–I5, I9): the chaos harness
 * (scripts/chaos/run.js) and the crash-window test run these checks after
 * killing programs at random or at every fault point.
 *
 * - every expected upload was accepted once (one .changes record in
 *   archive/logs/) and is in the archive exactly once: its source package
 *   and every binary its builds must make are in the pool as build 1 only
 *   and indexed once, each build's stored result says ok and lists what is
 *   in the pool; nothing else is in the pool, the indexes or the logs;
 * - every index entry matches its pool file (verifyArchive, lib/archive/verify.ts);
 * - no temporary (`.tmp-`) name is left in the queues, the archive queue,
 *   the archive or tmp/ (outbox/ and state/ may keep one a killed atomic
 *   write left: never read, and `opkfarm clean` removes it; those are counted);
 * - every queue directory is empty: incoming, master, the build queues and
 *   their claims, the archive queue, tmp/, rejected/ and the mail spool;
 * - each upload was mailed as accepted, built (each build) and installed at
 *   least once (mail may be sent twice after a crash, never lost);
 * - no process works inside the root or names it on its command line.
 *
 * Reading only. Each problem is one line naming the file and what is wrong.
 */
import { readFile, readdir, readlink } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { parseControl } from '../formats/control.js';
import { TEMP_PREFIX } from '../fs/atomic.js';
import { parseUploadKey, type QueueLayout } from '../layout.js';
import { formatFinding } from '../archive/findings.js';
import { changesRecordPath, inArchive, logPath, parsePoolFileName, poolFileName, poolPath } from '../archive/paths.js';
import { verifyArchive } from '../archive/verify.js';

/** One build an upload must get: the binary packages it makes. */
export interface ExpectedBuild {
  readonly architecture: string;
  readonly platform: string;
  readonly packages: readonly string[];
}

/** An upload that must end in the archive. */
export interface ExpectedUpload {
  readonly source: string;
  /** Without epoch, as keys and pool names have it. */
  readonly version: string;
  readonly builds: readonly ExpectedBuild[];
}

export interface EndStateOptions {
  readonly uploads: readonly ExpectedUpload[];
  /** The build queues of the farm. */
  readonly queues: readonly string[];
  /** Skip the process check (a caller that checks processes itself, or another host's root). */
  readonly skipProcesses?: boolean;
}

export interface EndStateReport {
  readonly problems: string[];
  /** Temporaries left where they are allowed (outbox/, state/): path relative to the root. */
  readonly strayTemporaries: string[];
}

/** Checks a drained farm; see the file comment. */
export async function checkEndState(layout: QueueLayout, options: EndStateOptions): Promise<EndStateReport> {
  const problems: string[] = [];
  problems.push(...(await archiveProblems(layout, options.uploads)));
  const verified = await verifyArchive(layout);
  problems.push(...verified.problems.map((finding) => `archive/${formatFinding(finding)}`));
  const temporaries = await temporariesUnder(layout);
  for (const path of temporaries.forbidden) problems.push(`${path}: a temporary name left behind`);
  problems.push(...(await queueProblems(layout, options.queues)));
  problems.push(...(await mailProblems(layout, options.uploads)));
  if (options.skipProcesses !== true) problems.push(...(await processProblems(layout.root)));
  return { problems, strayTemporaries: temporaries.allowed };
}

/** Every expected upload in the archive exactly once, and nothing else. */
async function archiveProblems(layout: QueueLayout, uploads: readonly ExpectedUpload[]): Promise<string[]> {
  const problems: string[] = [];
  const pool = new Set(await filesUnder(inArchive(layout, 'pool'), 'pool'));
  const indexed = await indexedFilenames(layout);
  const expectedPool = new Set<string>();
  const expectedLogs = new Set<string>();
  const logs = new Set(await filesUnder(inArchive(layout, 'logs'), 'logs'));

  for (const upload of uploads) {
    const name = `${upload.source} ${upload.version}`;
    const changesRecords = [...logs].filter((path) => {
      const key = /^logs\/[^/]+\/([^/]+)\.changes$/.exec(path)?.[1];
      const parsed = key === undefined ? undefined : parseUploadKey(key);
      return parsed?.source === upload.source && parsed.version === upload.version;
    });
    if (changesRecords.length !== 1) {
      problems.push(`${name}: ${changesRecords.length} .changes records in archive/logs/${upload.source}/ (${changesRecords.join(', ') || 'none'}), expected 1`);
    }
    const key = /([^/]+)\.changes$/.exec(changesRecords[0] ?? '')?.[1];
    if (key !== undefined) expectedLogs.add(changesRecordPath(upload.source, key));

    const files = [poolPath(upload.source, poolFileName(`src-${upload.source}`, upload.version, 'src', 'all'))];
    for (const build of upload.builds) {
      for (const pkg of build.packages) files.push(poolPath(upload.source, poolFileName(pkg, upload.version, build.architecture, build.platform)));
      if (key === undefined) continue;
      const pair = `${build.architecture}_${build.platform}`;
      for (const extension of ['.log', '.result'] as const) expectedLogs.add(logPath(upload.source, key, pair, extension));
      problems.push(...(await resultProblems(layout, upload, build, logPath(upload.source, key, pair, '.result'))));
    }
    for (const file of files) {
      expectedPool.add(file);
      if (!pool.has(file)) problems.push(`archive/${file}: missing from the pool (${name})`);
      const times = indexed.get(file) ?? 0;
      if (times !== 1) problems.push(`archive/${file}: indexed ${times} times, expected once (${name})`);
    }
  }
  for (const file of pool) {
    if (expectedPool.has(file)) continue;
    const build = parsePoolFileName(file.slice(file.lastIndexOf('/') + 1))?.build;
    problems.push(`archive/${file}: in the pool but no expected upload makes it${build !== undefined && build > 1 ? ` (build ${build}: a duplicate)` : ''}`);
  }
  for (const [file] of indexed) if (!expectedPool.has(file)) problems.push(`archive/${file}: indexed but no expected upload makes it`);
  for (const file of logs) if (!expectedLogs.has(file)) problems.push(`archive/${file}: stored but no expected upload or build has it`);
  for (const file of expectedLogs) if (!logs.has(file)) problems.push(`archive/${file}: missing`);
  return problems;
}

/** A stored build result: Status ok, listing exactly the binaries the build makes. */
async function resultProblems(layout: QueueLayout, upload: ExpectedUpload, build: ExpectedBuild, relative: string): Promise<string[]> {
  const text = await readFile(inArchive(layout, relative), 'utf8').catch(() => undefined);
  if (text === undefined) return [];
  const [stanza] = parseControl(text, { file: relative });
  const expected = build.packages.map((pkg) => poolFileName(pkg, upload.version, build.architecture, build.platform)).sort();
  const listed = (stanza?.get('Binaries') ?? '').split(/\s+/).filter((name) => name !== '').sort();
  const problems: string[] = [];
  if (stanza?.get('Status') !== 'ok') problems.push(`archive/${relative}: Status ${stanza?.get('Status') ?? '(none)'}, expected ok (${stanza?.get('Error') ?? ''})`);
  if (listed.join(' ') !== expected.join(' ')) problems.push(`archive/${relative}: Binaries ${listed.join(' ') || '(none)'}, expected ${expected.join(' ')}`);
  return problems;
}

/** How often each archive-relative pool path is the Filename of an index stanza, over every Packages file. */
async function indexedFilenames(layout: QueueLayout): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const relative of await filesUnder(inArchive(layout, 'feeds'), 'feeds')) {
    if (!relative.endsWith('/Packages')) continue;
    const feed = relative.slice(0, -'/Packages'.length);
    const text = await readFile(inArchive(layout, relative), 'utf8');
    for (const stanza of parseControl(text, { file: relative })) {
      const file = join(feed, stanza.get('Filename') ?? '').split(sep).join('/');
      counts.set(file, (counts.get(file) ?? 0) + 1);
    }
  }
  return counts;
}

/** `.tmp-` names anywhere in the root: forbidden, or allowed (outbox/, state/) and only counted. */
async function temporariesUnder(layout: QueueLayout): Promise<{ forbidden: string[]; allowed: string[] }> {
  const forbidden: string[] = [];
  const allowed: string[] = [];
  for (const relative of await namesUnder(layout.root, '')) {
    if (!relative.split('/').some((part) => part.startsWith(TEMP_PREFIX))) continue;
    if (/^(outbox|state)\//.test(relative)) allowed.push(relative);
    else forbidden.push(relative);
  }
  return { forbidden, allowed };
}

/** Every queue directory empty. */
async function queueProblems(layout: QueueLayout, queues: readonly string[]): Promise<string[]> {
  const directories = [
    layout.incoming,
    layout.master,
    ...queues.flatMap((queue) => [layout.buildQueue(queue), layout.claims(queue)]),
    layout.archiveQueue,
    layout.tmp,
    layout.rejected,
    layout.mailSpool,
    layout.mailSpoolClaims,
    layout.mailSpoolFailed,
  ];
  const problems: string[] = [];
  for (const directory of directories) {
    for (const name of await readdir(directory).catch(() => [] as string[])) {
      const path = join(directory, name);
      if (directories.includes(path)) continue;
      problems.push(`${path.slice(layout.root.length + 1)}: left in a queue directory that must be empty`);
    }
  }
  return problems;
}

/** Each upload mailed at least once as accepted, per build, and as installed (outbox transport). */
async function mailProblems(layout: QueueLayout, uploads: readonly ExpectedUpload[]): Promise<string[]> {
  const subjects = new Set<string>();
  for (const name of await readdir(layout.outbox).catch(() => [] as string[])) {
    if (name.startsWith(TEMP_PREFIX) || !name.endsWith('.eml')) continue;
    const subject = subjectOf(await readFile(join(layout.outbox, name), 'utf8'));
    if (subject !== undefined) subjects.add(subject);
  }
  const problems: string[] = [];
  for (const upload of uploads) {
    const wanted = [
      `Accepted ${upload.source} ${upload.version}`,
      ...upload.builds.map((build) => `Build succeeded ${upload.source} ${upload.version} ${build.architecture}/${build.platform}`),
    ];
    for (const subject of wanted) if (!subjects.has(subject)) problems.push(`outbox: no mail "${subject}"`);
    if (![...subjects].some((subject) => subject.startsWith(`Installed ${upload.source} ${upload.version} in `))) {
      problems.push(`outbox: no mail "Installed ${upload.source} ${upload.version} in …"`);
    }
  }
  return problems;
}

/** The Subject header of a message, unfolded. */
function subjectOf(message: string): string | undefined {
  const headers = message.split(/\r?\n\r?\n/, 1)[0] ?? '';
  const match = /^Subject:[ \t]*(.*(?:\r?\n[ \t].*)*)/im.exec(headers);
  return match?.[1]?.replace(/\r?\n[ \t]+/g, ' ').trim();
}

/** Processes working inside the root, or naming it on their command line (daemons, builders). */
async function processProblems(root: string): Promise<string[]> {
  const problems: string[] = [];
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => undefined);
    const state = stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    if (state === undefined || state === 'Z' || state === 'X') continue;
    const cwd = await readlink(`/proc/${name}/cwd`).catch(() => undefined);
    const commandLine = (await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ').trim();
    if ((cwd !== undefined && (cwd === root || cwd.startsWith(root + sep))) || commandLine.includes(root)) {
      problems.push(`process ${name} (${commandLine || '?'}, in ${cwd ?? '?'}) is still running`);
    }
  }
  return problems;
}

/** Regular files under `directory`, as `<prefix>/<relative path>`, sorted. */
async function filesUnder(directory: string, prefix: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => `${prefix}/${join(entry.parentPath, entry.name).slice(directory.length + 1)}`)
    .sort();
}

/** Every name under `directory` (files, directories, links), relative, "/"-separated. */
async function namesUnder(directory: string, prefix: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.map((entry) => `${prefix}${join(entry.parentPath, entry.name).slice(directory.length + 1)}`).sort();
}
