/** The API's URLs, written once for the worker's tests, the CLI and the web app. */
export const api = {
  tokens: () => `/api/tokens`,
  pairs: () => `/api/pairs`,
  pair: (slug: string) => `/api/pairs/${encodeURIComponent(slug)}`,
  fork: (slug: string) => `/api/pairs/${encodeURIComponent(slug)}/fork`,
  versions: (slug: string) => `/api/pairs/${encodeURIComponent(slug)}/versions`,
  current: (slug: string) => `/api/pairs/${encodeURIComponent(slug)}/versions/current`,
  version: (slug: string, n: number) => `/api/pairs/${encodeURIComponent(slug)}/versions/${n}`,
  commit: (slug: string, n: number) => `/api/pairs/${encodeURIComponent(slug)}/versions/${n}/commit`,
  sample: (slug: string, domain: 'A' | 'B', index: number) =>
    `/api/pairs/${encodeURIComponent(slug)}/samples/${domain}/${index}`,
  shard: (hash: string) => `/api/shards/${hash}`,
  openapi: () => `/api/openapi.json`,
};
