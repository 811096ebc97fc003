/** Sizes and ages in words, for reports, logs and pages. */

const SIZE_UNITS = ['KiB', 'MiB', 'GiB', 'TiB'] as const;

/** `1 byte`, `512 bytes`, `4.0 KiB`, `1.2 GiB` (1024-based). */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} byte${bytes === 1 ? '' : 's'}`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < SIZE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${SIZE_UNITS[unit] as string}`;
}

/** `45 s`, `12 min`, `5.0 h`, `3.0 days`: seconds to two minutes, minutes to two hours, hours to two days. */
export function formatAge(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}
