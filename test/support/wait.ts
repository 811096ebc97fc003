/** Bounded polling for tests that watch real processes change real files. */
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** Give up after this many milliseconds (default 60 s). */
  readonly timeoutMs?: number;
  /** Pause between probes (default 100 ms). */
  readonly intervalMs?: number;
  /** Extra text for the failure message: what the world looked like when the wait gave up. */
  readonly diagnostics?: () => string | Promise<string>;
}

/**
 * Probes until `probe` returns something other than undefined or false, and
 * returns it; throws "timed out after N s waiting for <what>" otherwise, with
 * the last probe error and the diagnostics.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await sleep(intervalMs);
  }
  const lines = [`timed out after ${(timeoutMs / 1000).toFixed(1)} s waiting for ${what}`];
  if (lastError !== undefined) lines.push(`last probe failed: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}`);
  if (options.diagnostics) {
    try {
      lines.push(await options.diagnostics());
    } catch (error) {
      lines.push(`(diagnostics failed: ${String(error)})`);
    }
  }
  throw new Error(lines.join('\n'));
}
