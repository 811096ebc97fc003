/** `opkfarm init`: what it prints, and where it finds the configuration. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { initCommands } from '../../daemons/opkfarm/init.js';

const EXAMPLE = fileURLToPath(new URL('../../queues-layout/opkfarm.conf.example', import.meta.url));

let scratch: string;

beforeEach(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'opkfarm-init-command-'));
});

afterEach(async () => {
  vi.restoreAllMocks();
  await rm(scratch, { recursive: true, force: true });
});

/** Runs `opkfarm <args>` in-process and returns what it printed. */
async function opkfarm(...args: string[]): Promise<string> {
  let output = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    output += String(chunk);
    return true;
  });
  try {
    await initCommands(
      yargs()
        .strict()
        .fail((message: string | undefined, error: Error | undefined) => {
          throw error ?? new Error(message);
        }),
    ).parseAsync(args);
  } finally {
    write.mockRestore();
  }
  return output;
}

describe('opkfarm init', () => {
  it('prints one line per change and a summary, then reports an up-to-date root', async () => {
    const root = join(scratch, 'root');
    const lines = (await opkfarm('init', '--root', root, '--config', EXAMPLE)).trimEnd().split('\n');
    expect(lines[0]).toBe(`created directory ${root}`);
    expect(lines).toContain('created directory queues/buildd/arm/claims');
    expect(lines).toContain('created link queues/arch/all -> ../buildd/amd64');
    expect(lines.at(-2)).toBe('installed configuration opkfarm.conf');
    expect(lines.at(-1)).toBe(
      `queue root ${root}: 28 created, 0 changed, 0 removed (farm "example", 2 build queues serving 3 architectures)`,
    );
    expect(lines).toHaveLength(29);

    expect(await opkfarm('init', '--root', root)).toBe(
      `queue root ${root} is up to date (farm "example", 2 build queues serving 3 architectures)\n`,
    );
  });

  it('asks for --config when the root has no configuration', async () => {
    const root = join(scratch, 'root');
    await expect(opkfarm('init', '--root', root)).rejects.toThrow(
      `no configuration for ${root}: ${join(root, 'opkfarm.conf')} does not exist; pass --config FILE ` +
        '(start from queues-layout/opkfarm.conf.example in the opkfarm package)',
    );
  });
});
