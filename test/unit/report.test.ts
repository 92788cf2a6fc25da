// The training report: bounded loss history that resumes, readable charts, one image row per checkpoint.
import { describe, expect, it } from 'vitest';
import { groupLosses, lineChart, LossHistory, movingAverage, niceTicks, renderReport, SAMPLE_NAMES } from '../../cli/train/report.ts';

describe('LossHistory', () => {
  it('keeps exact means while the history is short', () => {
    const h = new LossHistory(8);
    h.add(1, { D_A: 1 });
    h.add(2, { D_A: 3 });
    expect(h.series()).toEqual([
      { iter: 1, values: { D_A: 1 } },
      { iter: 2, values: { D_A: 3 } },
    ]);
  });

  it('halves its resolution instead of growing, keeping the span and the overall mean', () => {
    const h = new LossHistory(16);
    for (let i = 1; i <= 1000; i++) {
      h.add(i, { G_A: i });
    }
    const s = h.series();
    expect(s.length).toBeLessThanOrEqual(16);
    expect(s[s.length - 1].iter).toBe(1000);
    expect(s[0].iter).toBeLessThan(100);
    expect(h.state().bucket).toBe(64);
    // Points of equal buckets: the stored means average back to the run's mean (the partial one aside).
    const full = h.state().points;
    const covered = full[full.length - 1].iter;
    const mean = full.reduce((a, p) => a + p.values.G_A, 0) / full.length;
    expect(mean).toBeCloseTo((covered + 1) / 2, 6);
  });

  it('continues identically from a saved state', () => {
    const a = new LossHistory(8);
    for (let i = 1; i <= 37; i++) a.add(i, { x: Math.sin(i) });
    const b = new LossHistory(8, JSON.parse(JSON.stringify(a.state())));
    for (let i = 38; i <= 90; i++) {
      a.add(i, { x: Math.sin(i) });
      b.add(i, { x: Math.sin(i) });
    }
    expect(b.series()).toEqual(a.series());
  });
});

describe('charts', () => {
  it('picks round ticks that cover the range', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 950)).toEqual([0, 200, 400, 600, 800, 1000]);
    const flat = niceTicks(0.5, 0.5);
    expect(flat[0]).toBeLessThanOrEqual(0.5);
    expect(flat[flat.length - 1]).toBeGreaterThanOrEqual(0.5);
  });

  it('groups the reference loss names by what they measure', () => {
    const g = groupLosses(['D_A', 'G_A', 'cycle_A', 'idt_A', 'D_B', 'G_B', 'cycle_B', 'idt_B', 'other']);
    expect(g.map((x) => x.keys)).toEqual([['D_A', 'D_B'], ['G_A', 'G_B'], ['cycle_A', 'cycle_B'], ['idt_A', 'idt_B'], ['other']]);
  });

  it('draws axes, labelled ticks, a legend and one line per loss', () => {
    const svg = lineChart('Cycle', [{ iter: 10, values: { cycle_A: 2, cycle_B: 1 } }, { iter: 20, values: { cycle_A: 1, cycle_B: 0.5 } }], ['cycle_A', 'cycle_B']);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('>iteration<');
    expect(svg).toContain('>loss<');
    expect(svg).toContain('>cycle_B<');
    expect(svg).toContain('>20<');
  });
});

describe('long histories', () => {
  it('draw a faint raw line and a moving-average trend per loss', () => {
    const series = Array.from({ length: 200 }, (_, i) => ({ iter: i + 1, values: { D_A: i % 2 } }));
    const svg = lineChart('D', series, ['D_A']);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('opacity="0.25"');
    expect(movingAverage([0, 1, 0, 1, 0], 1)).toEqual([0.5, 1 / 3, 2 / 3, 1 / 3, 0.5]);
  });
});

describe('renderReport', () => {
  it('shows a row of the six samples per checkpoint, newest first, and a chart per loss group', () => {
    const images = (i: number) => Object.fromEntries(SAMPLE_NAMES.map((n) => [n, `report/${i}_${n}.png`])) as Record<(typeof SAMPLE_NAMES)[number], string>;
    const html = renderReport({
      title: 'a <b> & c',
      facts: ['preset tiny'],
      rows: [{ iter: 5, images: images(5) }, { iter: 10, images: images(10) }],
      history: [{ iter: 1, values: { D_A: 1, G_A: 2, cycle_A: 3 } }],
    });
    expect(html).toContain('a &lt;b&gt; &amp; c');
    expect(html.match(/<svg/g)).toHaveLength(3);
    expect(html.indexOf('iteration 10')).toBeLessThan(html.indexOf('iteration 5'));
    for (const n of SAMPLE_NAMES) expect(html).toContain(`src="report/10_${n}.png"`);
  });
});
