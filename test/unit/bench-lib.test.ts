import { describe, expect, it } from 'vitest';
import { generatorMacs } from '../../bench/lib/flops.ts';
import { interleave, type Peer } from '../../bench/lib/interleave.ts';
import { median, percentile, summarize } from '../../bench/lib/stats.ts';
import { toMarkdown } from '../../bench/lib/table.ts';
import { presetConfig } from '../../shared/model/config.ts';

describe('bench helpers', () => {
  it('counts the full generator at 49.6 GMAC at 256×256, a quarter of that at 128×128', () => {
    const g = presetConfig('full').generator;
    // 756,096 MACs per input pixel: stem 9408, downs 2×18432, 9 blocks × 73728, ups 2×18432, head 9408.
    expect(generatorMacs(g, 256, 256)).toBe(756096 * 65536);
    expect((generatorMacs(g, 256, 256) / 1e9).toFixed(1)).toBe('49.6');
    expect(generatorMacs(g, 128, 128) * 4).toBe(generatorMacs(g, 256, 256));
  });

  it('takes medians and nearest-rank percentiles', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(percentile([5, 1, 4, 2, 3], 99)).toBe(5);
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(summarize([2, 1, 3])).toEqual({ n: 3, median: 2, p99: 3, min: 1, max: 3 });
  });

  it('runs peers in turn, warm-ups first, each to its own repeat count or budget, and records a failure without stopping the others', async () => {
    const order: string[] = [];
    const peer = (name: string, cost: number, extra: Partial<Peer> = {}): Peer => ({
      name,
      repeats: 3,
      run: async () => {
        order.push(name);
        if (name === 'bad' && order.filter((n) => n === 'bad').length === 2) throw new Error('broke\nsecond line');
        return cost;
      },
      ...extra,
    });
    const res = await interleave([
      peer('a', 1),
      peer('b', 1, { repeats: 1, warmup: 0 }),
      peer('slow', 10, { budgetS: 15, minRepeats: 2 }),
      peer('bad', 1),
    ]);
    expect(order).toEqual(['a', 'slow', 'bad', 'a', 'b', 'slow', 'bad', 'a', 'slow', 'a']);
    const by = Object.fromEntries(res.map((r) => [r.name, r]));
    expect(by.a.samples).toHaveLength(3);
    expect(by.b.samples).toHaveLength(1);
    expect(by.slow.samples).toHaveLength(2); // stopped by its budget after the minimum
    expect(by.bad.error).toBe('broke');
    expect(by.bad.summary).toBeNull();
  });

  it('escapes pipes in markdown cells', () => {
    const md = toMarkdown({ id: 'x', title: 'T', columns: ['a|b'], rows: [['1']], notes: [] });
    expect(md).toContain('| a\\|b |');
  });
});
