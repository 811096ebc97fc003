/** Every check `opkfarm health` runs, in report order. */
import { archiveCheck } from './checks/archive.js';
import { archiveQueueCheck } from './checks/archive-queue.js';
import { failedBuildsCheck } from './checks/builds.js';
import { daemonsCheck } from './checks/daemons.js';
import { filesystemCheck } from './checks/filesystem.js';
import { incomingCheck } from './checks/incoming.js';
import { leftoversCheck } from './checks/leftovers.js';
import { mailCheck } from './checks/mail.js';
import { buildQueuesCheck, masterLinksCheck } from './checks/queues.js';
import { releasesCheck } from './checks/releases.js';
import type { HealthCheck } from './types.js';

export const HEALTH_CHECKS: readonly HealthCheck[] = [
  filesystemCheck,
  daemonsCheck,
  incomingCheck,
  buildQueuesCheck,
  masterLinksCheck,
  archiveQueueCheck,
  failedBuildsCheck,
  leftoversCheck,
  mailCheck,
  releasesCheck,
  archiveCheck,
];
