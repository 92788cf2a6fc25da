/**
 * The OpenAPI document the worker serves at /api/openapi.json, built here in Node from the same
 * app (worker/app.ts has no Workers-only imports): valid OpenAPI 3.1 (swagger-parser) and clean
 * under Redocly's recommended rules, zero errors and zero warnings, with nothing turned off.
 */
import SwaggerParser from '@apidevtools/swagger-parser';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { beforeAll, describe, expect, it } from 'vitest';

// Imported by a computed specifier so that this (Node) project's type check does not follow it
// into the worker, whose code is checked against the Workers types by worker/tsconfig.json.
const APP_MODULE = '../../worker/app.ts';

type Operation = {
  operationId?: string;
  summary?: string;
  description?: string;
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  responses: Record<string, unknown>;
};
let doc: any;
const operations = () =>
  Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ method, path, op })),
  );

beforeAll(async () => {
  const { app } = (await import(/* @vite-ignore */ APP_MODULE)) as { app: { request(url: string): Promise<Response> } };
  const res = await app.request('https://stripes.example/api/openapi.json');
  expect(res.status).toBe(200);
  doc = await res.json();
});

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1', async () => {
    expect(doc.openapi).toBe('3.1.0');
    // validate() dereferences in place: give it a copy.
    await expect(SwaggerParser.validate(structuredClone(doc))).resolves.toBeTruthy();
  });

  it("passes Redocly's recommended rules with no errors and no warnings", async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source: JSON.stringify(doc), absoluteRef: 'openapi.json', config });
    expect(problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`)).toEqual([]);
  });

  it('names the server, the licence, and a bearer scheme applied to every write', () => {
    expect(doc.servers).toEqual([{ url: 'https://stripes.example', description: expect.any(String) }]);
    expect(doc.info.license.name).toBe('MIT');
    expect(doc.components.securitySchemes.Bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const writes = operations().filter(({ method }) => method !== 'get' && method !== 'head');
    expect(writes.length).toBeGreaterThanOrEqual(12);
    for (const { method, path, op } of writes) {
      if (path === '/api/tokens' && method === 'post') expect(op.security).toEqual([]);
      else if (path.startsWith('/api/admin/')) expect(op.security).toEqual([{ AdminSecret: [] }]);
      else expect(op.security, `${method} ${path}`).toEqual([{ Bearer: [] }]);
    }
  });

  it('gives every operation a unique operationId, a summary and a description, and requires every path parameter', () => {
    const ids = new Set<string>();
    for (const { method, path, op } of operations()) {
      const where = `${method} ${path}`;
      expect(op.operationId, where).toMatch(/^[a-z][A-Za-z]+$/);
      expect(ids.has(op.operationId!), where).toBe(false);
      ids.add(op.operationId!);
      expect(op.summary, where).toBeTruthy();
      for (const p of op.parameters ?? []) if (p.in === 'path') expect(p.required, `${where} {${p.name}}`).toBe(true);
      for (const name of path.match(/\{(\w+)\}/g) ?? [])
        expect(op.parameters?.some((p) => p.in === 'path' && `{${p.name}}` === name), `${where} declares ${name}`).toBe(true);
    }
  });
});
