/** Turns a failed zod validation into a 400 that names the field and what was expected. */
import type { Hook } from '@hono/zod-openapi';
import type { AppEnv } from './env.ts';
import { badRequest } from './errors.ts';

type Issue = { path: PropertyKey[]; message: string };

export function describeIssues(target: string, issues: readonly Issue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => `${target}${i.path.length ? ` field "${i.path.map(String).join('.')}"` : ''}: ${i.message}`)
    .join('; ');
}

export const validationHook: Hook<any, AppEnv, any, any> = (result) => {
  if (!result.success) throw badRequest(describeIssues(result.target, result.error.issues));
};
