/**
 * A hostile build, run by the real builders with real processes: it tries to
 * reach a TCP listener this test runs outside the sandbox, to write outside
 * its work directory, to read what the sandbox hides, and it leaves a
 * never-ending child that left its process group (setsid). In the bubblewrap
 * sandbox none of that gets out and nothing of it keeps running; without the
 * sandbox the detached child is still found by the build's marker and killed.
 *
 * The sandboxed cases need a bwrap that can create namespaces here; where it
 * cannot, they are skipped and their name says why.
 */
import { createServer, type Server } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BuildRequest } from '../../lib/build/builder.js';
import { commandBuilder } from '../../lib/build/command.js';
import { probeBubblewrap, resolveSandbox, type Sandbox } from '../../lib/build/sandbox.js';
import { REPOSITORY } from '../source/fixtures.js';
import { killGroup, processesMentioning } from '../support/processes.js';

const probe = await probeBubblewrap();
const skipReason = probe.usable ? '' : ` (skipped: ${probe.reason})`;

interface Scene {
  /** Under the system temporary directory, as the queue roots of tests are. */
  readonly scratch: string;
  /** Inside the repository: outside every directory the sandbox hides. */
  readonly visible: string;
  readonly root: string;
  readonly request: Omit<BuildRequest, 'sandbox'>;
  readonly marker: string;
  readonly listener: { server: Server; port: number; connections: number };
}

let scene: Scene;

beforeEach(async () => {
  const scratch = await mkdtemp(join(tmpdir(), 'opkfarm-sandbox-'));
  await mkdir(join(REPOSITORY, 'test-artifacts'), { recursive: true });
  const visible = await mkdtemp(join(REPOSITORY, 'test-artifacts', 'sandbox-'));
  const root = join(scratch, 'root');
  const build = join(root, 'tmp', '.tmp-build-0000000001_hostile_1.0-all_all@host@1-abcdef');
  const unpacked = join(root, 'tmp', '.tmp-unpack-0000000001_hostile_1.0@host@1-abcdef', 'usr', 'src', 'hostile_1.0');
  for (const directory of [join(build, 'work'), join(build, 'out'), unpacked, join(scratch, 'outside')]) {
    await mkdir(directory, { recursive: true });
  }
  await writeFile(join(root, 'opkfarm.conf'), 'Farm: secret\n');
  await writeFile(join(visible, 'password'), 'hunter2\n');
  await writeFile(join(root, 'tmp', 'hostile.opk'), 'not really a package\n');
  const listener = { server: createServer(), port: 0, connections: 0 };
  listener.server.on('connection', (socket) => {
    listener.connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.server.listen(0, '127.0.0.1', resolve));
  const address = listener.server.address();
  listener.port = typeof address === 'object' && address !== null ? address.port : 0;
  const marker = `opkfarm-test-marker-${process.pid}-${Date.now()}`;
  scene = {
    scratch,
    visible,
    root,
    marker,
    listener,
    request: {
      source: 'hostile',
      version: '1.0',
      sourcePackage: join(root, 'tmp', 'hostile.opk'),
      sourceDirectory: unpacked,
      architecture: 'all',
      platform: 'all',
      packages: ['hostile'],
      workDirectory: join(build, 'work'),
      outputDirectory: join(build, 'out'),
      logFile: join(build, 'build.log'),
      timeoutSeconds: 20,
      limits: { logBytes: 1 << 20, outputBytes: 1 << 20 },
      mark: { id: '.tmp-build-0000000001_hostile_1.0-all_all@host@1-abcdef', directory: build },
      signal: new AbortController().signal,
    },
  };
});

afterEach(async () => {
  // A failed test may have left the hostile child running: never let it outlive the test.
  for (const pid of await markedProcesses()) killGroup(pid);
  await new Promise<void>((resolve) => scene.listener.server.close(() => resolve()));
  await rm(scene.scratch, { recursive: true, force: true });
  await rm(scene.visible, { recursive: true, force: true });
});

/** The hostile build: each attempt prints what happened; the detached child carries the marker in its command line. */
function hostileScript(): string {
  const { listener, scratch, visible, root, marker } = scene;
  return [
    `if (exec 3<>/dev/tcp/127.0.0.1/${listener.port}) 2>/dev/null; then echo "network: reached"; else echo "network: unreachable"; fi`,
    `for target in ${scratch}/outside/escaped ${visible}/escaped ${root}/escaped "$OPKFARM_SOURCE_DIRECTORY/escaped" ../escaped; do`,
    '  if echo escaped > "$target" 2>/dev/null; then echo "wrote $target"; else echo "could not write $target"; fi',
    'done',
    `for secret in ${root}/opkfarm.conf ${visible}/password; do`,
    '  if cat "$secret" 2>/dev/null; then echo "read $secret"; else echo "could not read $secret"; fi',
    'done',
    `setsid sh -c 'while :; do sleep 1; done' ${marker} > /dev/null 2>&1 < /dev/null &`,
    'echo "work directory: $(pwd)"',
    'echo ok > "$OPKFARM_OUTPUT_DIRECTORY/proof"',
  ].join('\n');
}

/** Pids of live processes whose command line holds this test's marker. */
async function markedProcesses(): Promise<number[]> {
  return (await processesMentioning(scene.marker)).map((info) => info.pid);
}

const exists = (path: string) => stat(path).then(() => true, () => false);

async function runHostile(sandbox: Sandbox | undefined): Promise<{ status: string; log: string }> {
  const builder = commandBuilder(['/bin/bash', '-c', hostileScript(), 'hostile']);
  const outcome = await builder({ ...scene.request, ...(sandbox === undefined ? {} : { sandbox }) });
  return { status: outcome.status, log: await readFile(scene.request.logFile, 'utf8') };
}

describe(`a hostile build in the bubblewrap sandbox${skipReason}`, () => {
  it.skipIf(!probe.usable)('reaches no network, writes and reads nothing outside, and leaves no process', async () => {
    const choice = resolveSandbox('bwrap', probe, [scene.root, join(scene.visible, 'password')]);
    if (choice.sandbox === undefined) throw new Error('no sandbox');
    const { status, log } = await runHostile(choice.sandbox);

    expect(status, log).toBe('ok');
    // Lines, not substrings: the log starts with the command, script included.
    expect(log).toMatch(/^network: unreachable$/m);
    expect(scene.listener.connections).toBe(0);
    // The read-only view refuses the write; under /tmp (where this test's root is) it lands in the private /tmp.
    expect(log).toContain(`\ncould not write ${join(scene.visible, 'escaped')}\n`);
    expect(log).toMatch(/^could not write \S+\/usr\/src\/hostile_1\.0\/escaped$/m);
    for (const target of [
      join(scene.scratch, 'outside', 'escaped'),
      join(scene.visible, 'escaped'),
      join(scene.root, 'escaped'),
      join(scene.request.workDirectory, '..', 'escaped'),
      join(scene.request.sourceDirectory, 'escaped'),
    ]) {
      expect(await exists(target), target).toBe(false);
    }
    expect(log).toContain(`\ncould not read ${scene.root}/opkfarm.conf\n`);
    expect(log).not.toContain('hunter2');
    // What it may do: work in its work directory and write its output.
    expect(log).toContain(`\nwork directory: ${scene.request.workDirectory}\n`);
    expect(await readFile(join(scene.request.outputDirectory, 'proof'), 'utf8')).toBe('ok\n');
    expect(await markedProcesses()).toEqual([]);
  });

  it.skipIf(!probe.usable || probe.bwrap.sizedTmpfs !== true)('finds its private /tmp full at Build-Output-Limit', async () => {
    const choice = resolveSandbox('bwrap', probe, [scene.root]);
    if (choice.sandbox === undefined) throw new Error('no sandbox');
    const fill = 'head -c 3000000 /dev/zero > /tmp/filler && echo "wrote 3000000 bytes" || echo "the write failed"; df -k /tmp | tail -1';
    const builder = commandBuilder(['/bin/bash', '-c', fill, 'filler']);
    const outcome = await builder({ ...scene.request, limits: { logBytes: 1 << 20, outputBytes: 2 << 20 }, sandbox: choice.sandbox });
    expect(outcome.status).toBe('ok');
    const log = await readFile(scene.request.logFile, 'utf8');
    expect(log).toMatch(/No space left on device/);
    expect(log).toMatch(/^the write failed$/m);
    // df's 1K-blocks column: the tmpfs is 2 MiB.
    expect(log).toMatch(/^tmpfs\s+2048\s/m);
  });

  it.skipIf(!probe.usable)('is killed whole on timeout, the detached child too', async () => {
    const choice = resolveSandbox('auto', probe, [scene.root]);
    if (choice.sandbox === undefined) throw new Error('no sandbox');
    const builder = commandBuilder(['/bin/bash', '-c', `setsid sh -c 'while :; do sleep 1; done' ${scene.marker} & sleep 1000`, 'hostile']);
    const started = Date.now();
    const outcome = await builder({ ...scene.request, timeoutSeconds: 1, sandbox: choice.sandbox });
    expect(outcome).toEqual({ status: 'failed', error: 'timed out after 1 s' });
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(await markedProcesses()).toEqual([]);
  });
});

describe('a build without the sandbox', () => {
  it('leaves no process either: the detached child is found by its marker', async () => {
    const builder = commandBuilder(['/bin/bash', '-c', `setsid sh -c 'while :; do sleep 1; done' ${scene.marker} > /dev/null 2>&1 < /dev/null &`, 'hostile']);
    const outcome = await builder(scene.request);
    expect(outcome.status).toBe('ok');
    expect(await markedProcesses()).toEqual([]);
  });

  it('fails when its log passes Build-Log-Limit, the log cut there with a note', async () => {
    const builder = commandBuilder(['/bin/bash', '-c', 'head -c 300000 /dev/zero | tr "\\0" x; echo; sleep 30', 'noisy']);
    const started = Date.now();
    const outcome = await builder({ ...scene.request, limits: { logBytes: 64 * 1024, outputBytes: 1 << 20 } });
    expect(outcome).toEqual({ status: 'failed', error: 'the build log exceeded Build-Log-Limit (65536 bytes)' });
    // Stopped by the watchdog, not by the sleep's end.
    expect(Date.now() - started).toBeLessThan(10_000);
    const log = await readFile(scene.request.logFile, 'utf8');
    expect(log.length).toBeLessThanOrEqual(64 * 1024);
    expect(log.length).toBeGreaterThan(60 * 1024);
    expect(log).toMatch(/\nopkfarm: log cut at 65536 bytes \(Build-Log-Limit\); the build wrote \d+ bytes or more and failed\n$/);
  });

  it('fails when its output directory passes Build-Output-Limit', async () => {
    const builder = commandBuilder(['/bin/bash', '-c', 'head -c 200000 /dev/zero > "$4/big.opk"; sleep 30', 'bulky']);
    const started = Date.now();
    const outcome = await builder({ ...scene.request, limits: { logBytes: 1 << 20, outputBytes: 64 * 1024 } });
    expect(outcome).toEqual({
      status: 'failed',
      error: 'the output directory holds 200000 bytes, more than Build-Output-Limit (65536 bytes)',
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await readFile(scene.request.logFile, 'utf8')).toContain('opkfarm: stopped: the output directory holds 200000 bytes');
  });
});

describe('choosing the sandbox', () => {
  const unusable = { usable: false, reason: 'bwrap is not installed (Debian package bubblewrap)' } as const;
  const usable = { usable: true, bwrap: { program: 'bwrap', pidNamespace: true } } as const;

  it('auto uses bwrap when it works and says why not when it does not', () => {
    expect(resolveSandbox('auto', usable, ['/srv/farm'])).toEqual({ sandbox: { bwrap: usable.bwrap, hidden: ['/srv/farm'] } });
    expect(resolveSandbox('auto', unusable, [])).toEqual({ sandbox: undefined, reason: unusable.reason, required: false });
  });

  it('bwrap is required, none is never used', () => {
    expect(resolveSandbox('bwrap', unusable, [])).toEqual({ sandbox: undefined, reason: unusable.reason, required: true });
    expect(resolveSandbox('none', usable, [])).toEqual({ sandbox: undefined, reason: 'Builder-Sandbox is none', required: false });
  });

  it('a missing bwrap is reported as such', async () => {
    expect(await probeBubblewrap('/nonexistent/bwrap')).toEqual({
      usable: false,
      reason: '/nonexistent/bwrap is not installed (Debian package bubblewrap)',
    });
  });
});
