/**
 * Runs every check, each on its own: a check that throws or hangs becomes a
 * critical line of its own, and never hides the others.
 */
import { describeError } from '../errors.js';
import { worst, type CheckResult, type HealthCheck, type HealthContext, type HealthReport } from './types.js';

/** How long one check may take before it is reported as hanging. */
const CHECK_TIMEOUT_MS = 60_000;

export async function runHealthChecks(checks: readonly HealthCheck[], context: HealthContext, timeoutMs = CHECK_TIMEOUT_MS): Promise<HealthReport> {
  const results: CheckResult[] = [];
  for (const check of checks) results.push(await runOne(check, context, timeoutMs));
  return { status: worst(results.map((result) => result.status)), generatedAt: context.now.toISOString(), checks: results };
}

async function runOne(check: HealthCheck, context: HealthContext, timeoutMs: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`did not finish within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    return { check: check.name, ...(await Promise.race([check.run(context), timeout])) };
  } catch (error) {
    return { check: check.name, status: 'critical', summary: `the check itself failed: ${describeError(error)}` };
  } finally {
    clearTimeout(timer);
  }
}
