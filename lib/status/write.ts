/**
 * Writes the status page into a directory as index.html, atomically (a web
 * server never serves half a page), with log links relative to the page.
 */
import { mkdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { FarmConfig } from '../config.js';
import { writeContentAtomic } from '../fs/atomic.js';
import type { QueueLayout } from '../layout.js';
import { collectStatus, type FarmStatus } from './collect.js';
import { renderStatusPage } from './render.js';

/** The page's file name in its directory. */
export const STATUS_PAGE = 'index.html';

export async function writeStatusPage(layout: QueueLayout, config: FarmConfig, directory: string, now: Date = new Date()): Promise<FarmStatus> {
  const status = await collectStatus(layout, config, now);
  await mkdir(directory, { recursive: true });
  const archiveUrl = relative(directory, layout.archive).split(sep).join('/') || '.';
  await writeContentAtomic(join(directory, STATUS_PAGE), renderStatusPage(status, { archiveUrl }));
  return status;
}
