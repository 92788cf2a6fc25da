import { describe, expect, it } from 'vitest';
import { formatDuration, ProgressBar } from '../../cli/progress.ts';

function fakeStream(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, columns: 100, write: (s: string) => (out.push(s), true) } as unknown as NodeJS.WriteStream };
}

describe('progress bar', () => {
  it('prints a plain line every tenth of the way when not on a terminal, with rate and ETA', () => {
    let t = 0;
    const { out, stream } = fakeStream(false);
    const bar = new ProgressBar({ total: 20, unit: 'img', label: 'AtoB', stream, now: () => t });
    for (let i = 0; i < 20; i++) {
      t += 500;
      bar.tick();
    }
    bar.done();
    expect(out).toHaveLength(10);
    expect(out[0]).toBe('AtoB 2/20 2.00 img/s ETA 0:09\n');
    expect(out.at(-1)).toBe('AtoB 20/20 2.00 img/s done in 0:10\n');
  });

  it('redraws one line on a terminal and keeps logged messages above it', () => {
    let t = 0;
    const { out, stream } = fakeStream(true);
    const bar = new ProgressBar({ total: 4, unit: 'img', stream, now: () => t });
    t = 1000;
    bar.tick();
    bar.log('stripes: x.png: not a PNG or JPEG file');
    t = 2000;
    bar.tick(3);
    bar.done();
    const text = out.join('');
    expect(text).toContain('\r\x1b[2Kstripes: x.png: not a PNG or JPEG file\n');
    expect(text.endsWith('4/4 2.00 img/s done in 0:02\n')).toBe(true);
    expect(text.split('\n')).toHaveLength(3);
  });

  it('formats durations as m:ss and h:mm:ss', () => {
    expect([formatDuration(9.4), formatDuration(75), formatDuration(3725), formatDuration(Infinity)]).toEqual(['0:09', '1:15', '1:02:05', '?']);
  });
});
