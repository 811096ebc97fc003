/**
 * The health check's vocabulary: a check looks at one part of the farm and
 * says ok, warning or critical in one line, with details and numbers for
 * machines. The report's status is its worst check's.
 */
import type { FarmConfig } from '../config.js';
import type { QueueLayout } from '../layout.js';

export type HealthStatus = 'ok' | 'warning' | 'critical';

/** Exit status and Prometheus value of each status. */
export const STATUS_CODE: Readonly<Record<HealthStatus, 0 | 1 | 2>> = { ok: 0, warning: 1, critical: 2 };

/** A metric a check exports: name (opkfarm_ is added), labels, value. */
export interface HealthMetric {
  readonly name: string;
  readonly help: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

/** What a check found. */
export interface Finding {
  readonly status: HealthStatus;
  /** One line. */
  readonly summary: string;
  /** One line each: what exactly is wrong (the stuck entry, the dead daemon…). */
  readonly details?: readonly string[];
  readonly metrics?: readonly HealthMetric[];
}

export interface CheckResult extends Finding {
  readonly check: string;
}

export interface HealthReport {
  readonly status: HealthStatus;
  readonly generatedAt: string;
  readonly checks: readonly CheckResult[];
}

/** Ages past which things count as stuck, in seconds, and other limits. */
export interface HealthThresholds {
  /** A daemon's heartbeat older than this is stale (heartbeats are refreshed every 10 s). */
  readonly heartbeatStale: number;
  /** The oldest entry of a build queue: warning, critical. */
  readonly queueAge: readonly [number, number];
  /** An archive-queue entry waiting: warning, critical. */
  readonly archiveQueueAge: readonly [number, number];
  /** Failed builds within this many seconds are reported. */
  readonly failedBuildWindow: number;
  /** Temporary files and work directories older than this are leftovers. */
  readonly leftoverAge: number;
  /** A rel suite whose dev suite has moved on for longer than this is behind. */
  readonly releaseLag: number;
  /** Free space on the queue root's filesystem, fraction: warning, critical. */
  readonly freeSpace: readonly [number, number];
}

export const DEFAULT_THRESHOLDS: HealthThresholds = {
  heartbeatStale: 60,
  queueAge: [6 * 3600, 24 * 3600],
  archiveQueueAge: [600, 3600],
  failedBuildWindow: 3 * 86400,
  leftoverAge: 3600,
  releaseLag: 30 * 86400,
  freeSpace: [0.1, 0.02],
};

export interface HealthContext {
  readonly layout: QueueLayout;
  readonly config: FarmConfig;
  readonly now: Date;
  readonly thresholds: HealthThresholds;
}

/** One check: a name (stable, for machines) and what it does. */
export interface HealthCheck {
  readonly name: string;
  run(context: HealthContext): Promise<Finding>;
}

/** The worse of the statuses. */
export function worst(statuses: Iterable<HealthStatus>): HealthStatus {
  let result: HealthStatus = 'ok';
  for (const status of statuses) if (STATUS_CODE[status] > STATUS_CODE[result]) result = status;
  return result;
}

/** The status of an age against warning and critical limits. */
export function ageStatus(ageSeconds: number, [warning, critical]: readonly [number, number]): HealthStatus {
  return ageSeconds >= critical ? 'critical' : ageSeconds >= warning ? 'warning' : 'ok';
}
