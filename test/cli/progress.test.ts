/** ProgressLine: one line redrawn in place on a terminal, nothing elsewhere. */
import { describe, expect, it } from 'vitest';

import { ProgressLine } from '../../daemons/cli/progress.js';

function stream(isTTY: boolean): { written: string[]; stream: NodeJS.WriteStream } {
  const written: string[] = [];
  return { written, stream: { isTTY, write: (text: string) => written.push(text) > 0 } as unknown as NodeJS.WriteStream };
}

describe('ProgressLine', () => {
  it('redraws one line on a terminal, at most every 100 ms unless forced, and clears it', () => {
    const terminal = stream(true);
    const line = new ProgressLine(terminal.stream);
    line.update('reindex: 1/3 packages');
    line.update('reindex: 2/3 packages');
    line.update('reindex: 3/3 packages', true);
    line.clear();
    expect(terminal.written).toEqual(['\r\x1b[Kreindex: 1/3 packages', '\r\x1b[Kreindex: 3/3 packages', '\r\x1b[K']);
  });

  it('writes nothing when the stream is not a terminal', () => {
    const pipe = stream(false);
    const line = new ProgressLine(pipe.stream);
    line.update('reindex: 1/3 packages', true);
    line.clear();
    expect(pipe.written).toEqual([]);
  });
});
