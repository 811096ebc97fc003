/**
 * The status page (lib/status/, `opkfarm status`, `archived --status-html`):
 * states read from the tree, escaping of upload-controlled text, and the
 * page as a browser shows it: a pipeline run with one failed build rendered
 * in headless Chromium, its cells checked, a screenshot kept as an artifact.
 */
import { access, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { QueueLayout } from '../../lib/layout.js';
import { collectStatus } from '../../lib/status/collect.js';
import { buildUpload, buildq, initFarm, nativeArchitecture } from '../support/farm.js';
import { usePipelineScratch } from '../support/pipeline-scratch.js';
import { runProgram } from '../support/programs.js';
import { writeSourcePackage } from '../support/sources.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const { directory } = usePipelineScratch('status-page');

async function farm(): Promise<{ root: string; arch: string }> {
  const base = directory();
  const root = join(base, 'root');
  const arch = nativeArchitecture();
  await initFarm(root, {
    queues: [
      { name: 'native', architectures: [arch] },
      { name: 'indep', architectures: ['all'] },
    ],
  });
  // failpkg fails for the native architecture; okpkg builds everywhere.
  for (const [name, recipe] of [
    ['failpkg', [`@if [ "$(OPK_HOST_ARCH)" != all ]; then echo "failpkg: cannot build" >&2; exit 1; fi`]],
    ['okpkg', ['@true']],
  ] as const) {
    const source = await writeSourcePackage(join(base, 'sources'), {
      name,
      version: '1.0',
      binaries: [
        { name: `${name}-bin`, architecture: 'any' },
        { name: `${name}-data`, architecture: 'all' },
      ],
      buildRecipe: [...recipe],
    });
    await buildUpload(source, join(root, 'uploads', 'incoming'));
  }
  return { root, arch };
}

async function once(root: string, program: 'buildd' | 'builddd' | 'archived', ...args: string[]): Promise<void> {
  const run = await runProgram(program, ['--root', root, '--once', ...args]);
  if (run.exitCode !== 0) throw new Error(`${program} --once: ${String(run.stderr)}`);
}

describe('the status page', () => {
  it('reads each state from the tree: waiting, building, built, failed, installed', async () => {
    const { root, arch } = await farm();
    const layout = new QueueLayout(root);
    const config = await loadConfig(layout.configFile);
    await buildq(root, ['accept', 'failpkg', '1.0', '--remarks', 'ok']);
    await buildq(root, ['accept', 'okpkg', '1.0', '--remarks', 'ok']);
    const failKey = '0000000001_failpkg_1.0';
    const okKey = '0000000002_okpkg_1.0';
    const states = async () =>
      Object.fromEntries(
        (await collectStatus(layout, config)).uploads.map((upload) => [upload.key, upload.builds.map((build) => `${build.architecture} ${build.state}`)]),
      );
    expect(await states()).toEqual({ [okKey]: [`${arch} waiting`, 'all waiting'].sort(), [failKey]: [`${arch} waiting`, 'all waiting'].sort() });

    await rename(layout.buildQueueEntry('indep', okKey), join(layout.claims('indep'), `${okKey}.opk@${hostname()}@${process.pid}`));
    await once(root, 'buildd', '--queue', 'native');
    expect(await states()).toEqual({
      [okKey]: [`${arch} built`, 'all building'].sort(),
      [failKey]: [`${arch} failed`, 'all waiting'].sort(),
    });
    await rename(join(layout.claims('indep'), `${okKey}.opk@${hostname()}@${process.pid}`), layout.buildQueueEntry('indep', okKey));
    await once(root, 'buildd', '--queue', 'indep');
    await once(root, 'builddd');
    await once(root, 'archived');
    expect(await states()).toEqual({
      [okKey]: [`${arch} installed`, 'all installed'].sort(),
      [failKey]: [`${arch} failed`, 'all installed'].sort(),
    });
  }, 120_000);

  it('escapes what uploads control', async () => {
    const { root } = await farm();
    await writeFile(join(root, 'uploads', 'incoming', 'evil_1.changes'), 'Source: <img src=x onerror=alert(1)>\nVersion: "1"\n');
    const html = join(directory(), 'html');
    const written = await runProgram('opkfarm', ['status', '--root', root, '--html', html]);
    expect(written.stdout).toBe(`wrote ${join(html, 'index.html')}: 0 uploads, 2 queues`);
    const page = await readFile(join(html, 'index.html'), 'utf8');
    expect(page).toContain('&#60;img src=x onerror=alert(1)&#62; &#34;1&#34;: invalid');
    expect(page).not.toContain('<img');
  });

  it('shows a run with one failed build in Chromium, with links to the logs', async (context) => {
    if (!(await access(CHROMIUM).then(() => true, () => false))) context.skip(`${CHROMIUM} is not installed (Debian package chromium)`);
    const { root, arch } = await farm();
    await buildq(root, ['accept', 'failpkg', '1.0', '--remarks', 'ok']);
    await buildq(root, ['accept', 'okpkg', '1.0', '--remarks', 'ok']);
    const html = join(root, 'archive', 'status');
    await once(root, 'buildd', '--queue', 'native');
    await once(root, 'buildd', '--queue', 'indep');
    await once(root, 'builddd');
    await once(root, 'archived', '--status-html', html);

    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      });
      const page = await browser.newPage({ viewport: { width: 1000, height: 600 } });
      await page.goto(`file://${join(html, 'index.html')}`);
      const columnsOf = await page.locator('#packages thead th').allTextContents();
      const stateOf = async (key: string, column: string) => {
        const index = columnsOf.indexOf(column);
        return page.locator(`tr[data-key="${key}"] > *`).nth(index).getAttribute('data-state');
      };
      expect(columnsOf).toEqual(['source', 'version', 'upload', ...[`${arch}/all`, 'all/all'].sort()]);
      expect(await stateOf('0000000001_failpkg_1.0', `${arch}/all`)).toBe('failed');
      expect(await stateOf('0000000001_failpkg_1.0', 'all/all')).toBe('installed');
      expect(await stateOf('0000000002_okpkg_1.0', `${arch}/all`)).toBe('installed');
      expect(await page.locator('#queues tbody tr').count()).toBe(2);

      // The failed cell links to the stored log, which the browser can open.
      const failedIndex = columnsOf.indexOf(`${arch}/all`);
      const link = page.locator('tr[data-key="0000000001_failpkg_1.0"] > *').nth(failedIndex).locator('a');
      await link.click();
      expect(await page.locator('body').innerText()).toContain('failpkg: cannot build');
      await page.goBack();

      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true });
    } finally {
      await browser?.close();
    }
  }, 120_000);
});
