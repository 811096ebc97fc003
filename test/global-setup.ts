// Tests that spawn the real programs run dist/; compile it once per run so
// that `npx vitest` never tests stale JavaScript.
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
