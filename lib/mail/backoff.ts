/**
 * When a spooled message is tried again: one minute after the first failed
 * attempt, then twice as long after each (2, 4, 8… minutes) up to an hour
 * between attempts. After MAX_ATTEMPTS, about two days, the message moves to
 * the failed part of the spool, kept for an operator.
 */

export const FIRST_RETRY_SECONDS = 60;
export const MAX_RETRY_SECONDS = 3600;
export const MAX_ATTEMPTS = 50;

/** Seconds to wait after `attempts` failed attempts (1 or more). */
export function retryDelaySeconds(attempts: number): number {
  const doublings = Math.max(0, Math.min(attempts - 1, 30));
  return Math.min(FIRST_RETRY_SECONDS * 2 ** doublings, MAX_RETRY_SECONDS);
}

/** The time of the next attempt after `attempts` failed ones, the last at `now`. */
export function nextAttemptAfter(attempts: number, now: Date): Date {
  return new Date(now.getTime() + retryDelaySeconds(attempts) * 1000);
}
