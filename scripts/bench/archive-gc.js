// Garbage collection benchmark (run after `npm run build`):
//
//   node scripts/bench/archive-gc.js [POOL_FILES]     default 100000
//
// Makes an archive of POOL_FILES pool files (2,000 sources, each with 5
// binary packages in 5 versions for 2 architectures: 50 files a source,
// scaled to POOL_FILES) whose dev/trunk indexes list the newest version of
// each package: a fifth of the pool. Pool files are tiny placeholders with
// real pool names (gc reads names, sizes, indexes and build records, never
// package contents), so generation takes seconds, not minutes. Then runs
// `collectGarbage` twice in a child process of its own: a dry run, and the
// real run that deletes the other four fifths (grace 0, one build kept per
// package, no cap), printing each one's time and the child's peak RSS.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../../dist/', import.meta.url));

if (process.argv[2] === '--child') {
  await runGc(process.argv[3], process.argv[4] === 'dry');
} else {
  await main(Number(process.argv[2] ?? 100_000));
}

async function main(poolFiles) {
  const { QueueLayout } = await import(`${dist}lib/layout.js`);
  const root = await mkdtemp(join(tmpdir(), 'opkfarm-bench-gc-'));
  try {
    const layout = new QueueLayout(root);
    for (const directory of layout.directories()) await mkdir(directory, { recursive: true });
    const started = process.hrtime.bigint();
    const made = await makeArchive(layout, poolFiles);
    console.log(`gc: made ${made.files} pool files, ${made.indexed} indexed, in ${seconds(started)} s`);
    for (const mode of ['dry', 'real']) {
      const output = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', root, mode], { encoding: 'utf8' });
      process.stdout.write(output);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function makeArchive(layout, poolFiles) {
  const perSource = 50;
  const sources = Math.max(1, Math.round(poolFiles / perSource));
  const architectures = ['amd64-linux-glibc', 'all'];
  const versions = ['1.0-1', '1.1-1', '1.2-1', '2.0-1', '2.1-1'];
  const stanzas = new Map(architectures.map((architecture) => [architecture, []]));
  let files = 0;
  for (let s = 0; s < sources; s++) {
    const source = `src${String(s).padStart(5, '0')}`;
    const directory = join(layout.archive, 'pool', source.slice(0, 1), source);
    await mkdir(directory, { recursive: true });
    const writes = [];
    for (let p = 0; p < 5; p++) {
      const pkg = `${source}-p${p}`;
      for (const architecture of architectures) {
        for (const version of versions) {
          const name = `${pkg}_${version}_${architecture}_all.opk`;
          writes.push(writeFile(join(directory, name), 'x'));
          files += 1;
        }
        const newest = versions[versions.length - 1];
        stanzas.get(architecture).push(
          `Package: ${pkg}\nSource: ${source}\nVersion: ${newest}\nArchitecture: ${architecture}\nPlatform: all\n` +
            `Filename: ../../../../../../pool/${source.slice(0, 1)}/${source}/${pkg}_${newest}_${architecture}_all.opk\nSize: 1\n`,
        );
      }
    }
    await Promise.all(writes);
  }
  let indexed = 0;
  for (const [architecture, list] of stanzas) {
    const feed = join(layout.archive, 'feeds', 'dev', 'trunk', architecture, 'all', 'misc');
    await mkdir(feed, { recursive: true });
    await writeFile(join(feed, 'Packages'), list.join('\n'));
    indexed += list.length;
  }
  return { files, indexed };
}

async function runGc(root, dryRun) {
  const { QueueLayout } = await import(`${dist}lib/layout.js`);
  const { collectGarbage } = await import(`${dist}lib/archive/gc.js`);
  const started = process.hrtime.bigint();
  const report = await collectGarbage(new QueueLayout(root), { keepBuilds: 1, graceSeconds: 0, maxDeletions: Number.MAX_SAFE_INTEGER, dryRun });
  const rss = process.resourceUsage().maxRSS / 1024;
  console.log(
    `gc ${dryRun ? '--dry-run' : '(deleting)'}: ${report.collected.length} files ${dryRun ? 'to delete' : 'deleted'}, ` +
      `${report.kept.indexed} kept as indexed, in ${seconds(started)} s; peak RSS ${rss.toFixed(0)} MiB`,
  );
}

function seconds(started) {
  return (Number(process.hrtime.bigint() - started) / 1e9).toFixed(2);
}
