/**
 * Uploads over SFTP, end to end, with real components: an OpenSSH sshd run
 * from the configuration `opkfarm sftp-config --dedicated` writes (chroot,
 * internal-sftp, key only), a generated host key and uploader key, and the
 * real `opkfarm upload`, whose connections go through a TCP proxy that counts
 * their bytes and can cut them like a dropped network.
 *
 * The upload is interrupted in the middle of its source package, resumed
 * (only the rest is sent) with its .changes refused on the way, finished
 * (the complete source package is not sent again), refused a second time,
 * then accepted by buildq and built by buildd, builddd and archived into the
 * archive. The uploader's own hostile moves (links, directories, escaping the
 * chroot) are refused by the server.
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueLayout } from '../../lib/layout.js';
import { writeCommandBuilder, countedBuilds } from '../support/builders.js';
import { buildUpload, buildq, feedProblems, indexedNames, initFarm, queueLeftovers } from '../support/farm.js';
import { runPipelineOnce, runProgram } from '../support/programs.js';
import { writeSourcePackage } from '../support/sources.js';
import { chrootableScratch, freePort, makeKey, sshdUnavailable, startSshd, type RunningSshd } from '../support/sshd.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const unavailable = await sshdUnavailable();
const OPK = 'bigpkg_1.0_src.opk';
const CHANGES = 'bigpkg_1.0.changes';
/** Random, so that gzip cannot shrink it: the source package is about this big. */
const PAYLOAD_BYTES = 3 * 1024 * 1024;
/** The upload account: Debian's unprivileged "nobody", whose group is "nogroup". */
const UPLOADER = 'nobody';
const NOGROUP = 65534;

let base: string | undefined;
let layout: QueueLayout;
let staging: string;
let keys: string;
let sshd: RunningSshd | undefined;
let proxy: TcpProxy | undefined;
let counter: string;

/** `opkfarm upload` of the test's upload through the proxy, as the uploader (or with another key or known_hosts). */
async function upload(...extra: string[]) {
  return uploadAs({}, ...extra);
}

async function uploadAs(as: { identity?: string; knownHosts?: string }, ...extra: string[]) {
  const result = await runProgram(
    'opkfarm',
    [
      'upload', '--host', '127.0.0.1', '--port', String(proxy?.port), '--user', UPLOADER, '--identity', as.identity ?? join(keys, 'uploader'),
      '--ssh-option', `UserKnownHostsFile=${as.knownHosts ?? join(keys, 'known_hosts')}`, '--distributions', 'trunk', ...extra, join(staging, CHANGES),
    ],
    { timeout: 60_000 },
  );
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

async function sftpBatch(commands: string[]) {
  const result = await execa(
    'sftp',
    ['-b', '-', '-P', String(proxy?.port), '-i', join(keys, 'uploader'), '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${join(keys, 'known_hosts')}`, `${UPLOADER}@127.0.0.1`],
    { input: `${commands.join('\n')}\n`, reject: false, timeout: 30_000 },
  );
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

const sizeOf = (path: string) => stat(path).then((stats) => stats.size, () => undefined);

describe.skipIf(unavailable !== undefined)(`uploads over SFTP with a real sshd${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  beforeAll(async () => {
    base = await chrootableScratch('sftp');
    layout = new QueueLayout(join(base, 'root'));
    staging = join(base, 'staging');
    keys = join(base, 'keys');
    counter = join(base, 'builds');
    await mkdir(keys, { mode: 0o700 });
    const builder = await writeCommandBuilder({ directory: base, counter });
    // The test builder counts its builds in a file of this scratch directory, which the build sandbox hides.
    await initFarm(layout.root, { queues: [{ name: 'indep', architectures: ['all'] }], builderCommand: builder, sandbox: 'none' });

    const source = await writeSourcePackage(join(base, 'sources'), { name: 'bigpkg', version: '1.0', binaries: [{ name: 'bigpkg', architecture: 'all' }] });
    await writeFile(join(source, 'src', 'random.bin'), randomBytes(PAYLOAD_BYTES));
    await buildUpload(source, staging);

    // The farm's sshd, configured by opkfarm sftp-config. Uploads come from the unprivileged system account
    // "nobody" (no account is created for the test); the farm runs as root, and incoming/ is set up as the
    // generated notes say: owned by the farm, writable by the upload account's group.
    const hostKey = join(keys, 'host_key');
    const hostPublic = await makeKey(hostKey);
    const uploaderPublic = await makeKey(join(keys, 'uploader'));
    // sshd reads the key file as the uploader: it lives apart from the private keys.
    const etc = join(base, 'etc');
    await mkdir(etc, { mode: 0o755 });
    await writeFile(join(etc, 'authorized_keys'), `restrict ${uploaderPublic}\n`, { mode: 0o644 });
    await chown(layout.incoming, 0, NOGROUP);
    await chmod(layout.incoming, 0o770);
    const port = await freePort();
    const config = join(base, 'sshd_config');
    const generated = await runProgram('opkfarm', [
      'sftp-config', '--root', layout.root, '--user', UPLOADER, '--farm-user', 'root', '--dedicated', '--port', String(port),
      '--listen', '127.0.0.1', '--host-key', hostKey, '--authorized-keys', join(etc, 'authorized_keys'),
      '--pid-file', join(base, 'sshd.pid'), '--output', config,
    ]);
    expect(generated.stderr).toBe('');
    expect(generated.exitCode).toBe(0);
    sshd = await startSshd(config);
    proxy = await TcpProxy.start(port);
    await writeFile(join(keys, 'known_hosts'), `[127.0.0.1]:${proxy.port} ${hostPublic}\n`);
  });

  afterAll(async () => {
    await proxy?.close();
    await sshd?.stop();
    if (base !== undefined) await rm(base, { recursive: true, force: true });
  });

  it('resumes an interrupted upload without sending complete data again, refuses it twice, and the farm builds it', async () => {
    const opkSize = (await stat(join(staging, OPK))).size;
    const changesSize = (await stat(join(staging, CHANGES))).size;
    expect(opkSize).toBeGreaterThan(PAYLOAD_BYTES);
    const partialName = join(layout.incoming, `.tmp-upload-${OPK}`);

    // 1. The network drops a megabyte into the source package (connection 1 lists incoming/, 2 sends the package).
    proxy?.cutNext(undefined, 1024 * 1024);
    const cut = await upload();
    expect(cut.exitCode).toBe(1);
    expect(cut.stderr).toMatch(/^opkfarm: sftp:\/\/nobody@127\.0\.0\.1:\d+\/incoming: sftp failed \((?:exit \d+|SIG[A-Z]+)\): .*; run the same command again to resume$/);
    expect(proxy?.take().map((connection) => connection.cut)).toEqual([false, true]);
    const partial = await sizeOf(partialName);
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(opkSize);
    // Nothing under a final name: the farm sees a partial file still arriving, no upload.
    expect((await readdir(layout.incoming)).sort()).toEqual([`.tmp-upload-${OPK}`]);
    expect(await buildq(layout.root, ['list'])).toMatch(/^no uploads in incoming\/\n\nArriving .*\n {2}\.tmp-upload-bigpkg_1\.0_src\.opk +partial .* partial file of bigpkg_1\.0_src\.opk, still being sent$/);

    // 2. Again: the package is resumed from where the server stopped; the connection for the .changes is refused.
    proxy?.cutNext(undefined, undefined, 0);
    const resumed = await upload();
    expect(resumed.exitCode).toBe(1);
    const rest = opkSize - (partial as number);
    expect(resumed.stdout).toBe(`${OPK}: resumed, sent the last ${rest} bytes`);
    const [, resumeConnection, refused] = proxy?.take() ?? [];
    // SSH adds its handshake and framing to the rest; sending the whole package again would take more than opkSize.
    expect(resumeConnection?.bytesUp).toBeGreaterThanOrEqual(rest);
    expect(resumeConnection?.bytesUp).toBeLessThan(rest + 64 * 1024);
    expect(refused?.cut).toBe(true);
    // Byte for byte (Buffer.equals: vitest's deep equality takes seconds over megabytes).
    expect((await readFile(join(layout.incoming, OPK))).equals(await readFile(join(staging, OPK)))).toBe(true);
    expect(await readdir(layout.incoming)).toEqual([OPK]);

    // 3. Once more: the complete package is not sent again, only the .changes, last.
    const finished = await upload();
    expect(finished.exitCode).toBe(0);
    expect(finished.stdout).toBe(
      [`${OPK}: already there, not sent again`, `${CHANGES}: sent ${changesSize} bytes`, `Uploaded bigpkg 1.0 to sftp://${UPLOADER}@127.0.0.1:${proxy?.port}/incoming`].join('\n'),
    );
    const connections = proxy?.take() ?? [];
    expect(connections).toHaveLength(2);
    expect(connections.reduce((sum, connection) => sum + connection.bytesUp, 0)).toBeLessThan(64 * 1024);
    expect((await readdir(layout.incoming)).sort()).toEqual([CHANGES, OPK]);
    expect(await readFile(join(layout.incoming, CHANGES))).toEqual(await readFile(join(staging, CHANGES)));

    // 4. A second upload is refused, without connecting, unless forced.
    const again = await upload();
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toMatch(new RegExp(`^opkfarm: ${CHANGES.replace(/\./g, '\\.')}: already uploaded to sftp://nobody@127\\.0\\.0\\.1:\\d+/incoming at \\S+ \\(see .*/bigpkg_1\\.0\\.upload\\); --force uploads it again$`));
    expect(proxy?.take()).toEqual([]);

    // 5. The farm: a complete upload, accepted, built, archived.
    expect(await buildq(layout.root, ['list'])).toMatch(/^bigpkg 1\.0 +complete +3\.\d MiB +\d+ s {2}Test Uploader <uploader@example\.org>$/);
    await buildq(layout.root, ['accept', 'bigpkg', '1.0', '--remarks', 'Uploaded over SFTP.']);
    await runPipelineOnce(layout.root, ['indep']);
    expect(await countedBuilds(counter)).toEqual(['bigpkg all all']);
    expect(await indexedNames(layout.root)).toEqual(['bigpkg', 'src-bigpkg']);
    expect(await feedProblems(layout.root)).toEqual([]);
    expect(await queueLeftovers(layout.root, ['indep'])).toEqual([]);
  }, 120_000);

  it('says what to do about an unknown host key and a key the farm does not take', async () => {
    await writeFile(join(keys, 'empty_known_hosts'), '');
    // --force: the upload itself is done (the test before); these runs fail before sending anything.
    const unknownHost = await uploadAs({ knownHosts: join(keys, 'empty_known_hosts') }, '--force');
    expect(unknownHost.exitCode).toBe(1);
    expect(unknownHost.stderr).toMatch(
      /: sftp failed \(exit \d+\): .*; the host key of 127\.0\.0\.1 is not known: check its fingerprint \(ssh-keyscan -p \d+ 127\.0\.0\.1\), add it to ~\/\.ssh\/known_hosts, or pass --strict-host-key-checking accept-new$/,
    );
    await makeKey(join(keys, 'stranger'));
    const stranger = await uploadAs({ identity: join(keys, 'stranger') }, '--force');
    expect(stranger.exitCode).toBe(1);
    expect(stranger.stderr).toMatch(/; the farm does not take your key: ask its admin to add your public key to the uploaders' authorized_keys \(or pass --identity FILE\)$/);
    proxy?.take();
  });

  it('confines the uploader: no links, no directories, nothing outside incoming/, no command', async () => {
    const configText = await readFile(layout.configFile, 'utf8');
    const planted = await sftpBatch([
      `-symlink ${layout.configFile} planted-link`,
      `-ln ${layout.configFile} planted-hardlink`,
      '-mkdir planted-directory',
      '-put /etc/hostname ../escaped',
      '-put /etc/hostname ../../opkfarm.conf',
      'cd ..',
      'pwd',
      'ls -1a',
    ]);
    expect(planted.exitCode).toBe(0);
    expect(planted.stderr).toMatch(/remote symlink .*: Permission denied/);
    expect(planted.stderr).toMatch(/remote mkdir .*: Permission denied/);
    expect(planted.stderr).toContain('Server does not support hardlink@openssh.com extension');
    expect(planted.stderr).toContain('dest open "/incoming/../escaped": Permission denied');
    expect(planted.stderr).toContain('dest open "/incoming/../../opkfarm.conf": Permission denied');
    // The chroot's root is uploads/: "cd .." stays there and sees only incoming.
    expect(planted.stdout).toContain('Remote working directory: /\n');
    expect(planted.stdout.split('\n').filter((line) => !line.startsWith('sftp>') && !line.startsWith('Remote') && line !== '').sort()).toEqual(['.', '..', 'incoming']);
    expect((await readdir(layout.incoming)).filter((name) => /planted|escaped/.test(name))).toEqual([]);
    expect(await readdir(layout.uploads)).toEqual(['incoming']);
    expect(await readFile(layout.configFile, 'utf8')).toBe(configText);
    expect((await stat(layout.configFile)).nlink).toBe(1);

    const shell = await execa(
      'ssh',
      ['-p', String(proxy?.port), '-i', join(keys, 'uploader'), '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${join(keys, 'known_hosts')}`, `${UPLOADER}@127.0.0.1`, 'cat /etc/passwd'],
      { reject: false, timeout: 30_000, input: '' },
    );
    // ForceCommand runs internal-sftp whatever the client asks: the command never runs.
    expect(String(shell.stdout)).not.toContain('root:');
    proxy?.take();
  });
});
