/**
 * The daemons, from their heartbeats (state/heartbeats/<program>@<host>@<pid>,
 * refreshed every 10 s): each of builddd, archived and buildd must have a
 * fresh one; a heartbeat gone stale, or of a dead process on this host, is a
 * daemon that died without stopping cleanly.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { currentProcess, isProcessAlive } from '../../queue/heartbeat.js';
import type { Finding, HealthCheck, HealthMetric } from '../types.js';

const REQUIRED = ['buildd', 'builddd', 'archived'] as const;
const HEARTBEAT = /^([a-z]+)@([^@/]+)@(\d+)$/;

export const daemonsCheck: HealthCheck = {
  name: 'daemons',
  async run({ layout, now, thresholds }): Promise<Finding> {
    const self = currentProcess();
    const fresh = new Map<string, number>();
    const stale: string[] = [];
    for (const name of (await readdir(layout.heartbeats)).sort()) {
      const match = HEARTBEAT.exec(name);
      if (!match) continue;
      const [, program = '', host = '', pid = '0'] = match;
      const mtime = (await stat(join(layout.heartbeats, name)).catch(() => undefined))?.mtimeMs;
      if (mtime === undefined) continue;
      const age = (now.getTime() - mtime) / 1000;
      const dead = host === self.host && !isProcessAlive(Number(pid));
      if (dead || age > thresholds.heartbeatStale) {
        stale.push(`${program} ${pid} on ${host}: ${dead ? 'process gone' : 'no heartbeat'} for ${Math.round(age)} s (${name})`);
      } else {
        fresh.set(program, (fresh.get(program) ?? 0) + 1);
      }
    }
    const missing = REQUIRED.filter((program) => !fresh.has(program));
    const running = [...fresh].map(([program, count]) => `${count} ${program}`).join(', ') || 'none';
    const metrics: HealthMetric[] = REQUIRED.map((program) => ({
      name: 'daemons_running',
      help: 'Daemons with a fresh heartbeat.',
      labels: { program },
      value: fresh.get(program) ?? 0,
    }));
    metrics.push({ name: 'daemons_stale_heartbeats', help: 'Heartbeats of daemons that died without stopping cleanly.', value: stale.length });
    if (missing.length > 0) {
      return { status: 'critical', summary: `not running: ${missing.join(', ')} (running: ${running})`, details: stale, metrics };
    }
    if (stale.length > 0) return { status: 'warning', summary: `running: ${running}; ${stale.length} stale heartbeats`, details: stale, metrics };
    return { status: 'ok', summary: `running: ${running}`, metrics };
  },
};
