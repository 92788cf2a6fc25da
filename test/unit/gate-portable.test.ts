/**
 * shared/gate runs inside a Cloudflare Worker / Durable Object: its whole import graph must be
 * plain TypeScript modules of this repository, with no Node, DOM or TF.js dependency.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function importGraph(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const src = readFileSync(file, 'utf8');
    const specs = [...src.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]);
    seen.set(file, specs);
    for (const s of specs) if (s.startsWith('.')) visit(resolve(dirname(file), s));
  };
  visit(entry);
  return seen;
}

describe('shared/gate is Worker-portable', () => {
  const graph = importGraph(resolve(root, 'shared/gate/index.ts'));

  it('imports only relative TypeScript modules inside shared/', () => {
    const files = [...graph.keys()].map((f) => f.slice(root.length + 1));
    expect(files).toContain('shared/gate/forward.ts');
    expect(files).toContain('shared/train/rng.ts');
    for (const [file, specs] of graph) {
      expect(file.startsWith(resolve(root, 'shared') + '/'), file).toBe(true);
      for (const s of specs) expect(s.startsWith('.') && s.endsWith('.ts'), `${file} imports ${s}`).toBe(true);
    }
  });

  it('uses no Node or DOM globals and no TF.js', () => {
    for (const file of graph.keys()) {
      const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      for (const g of ['process.', 'Buffer', 'require(', 'document.', 'window.', 'tf.', '@tensorflow', 'performance.'])
        expect(code.includes(g), `${file} uses ${g}`).toBe(false);
    }
  });
});
