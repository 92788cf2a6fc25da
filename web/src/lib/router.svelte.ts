/**
 * A hash router: `#/`, `#/pairs/<slug>`, `#/create`. Hash URLs need no server fallback, so a
 * shared link to a pair works from the static assets alone.
 */
export type Route =
  | { page: 'gallery' }
  | { page: 'pair'; slug: string }
  | { page: 'create'; fork?: string }
  | { page: 'missing'; path: string };

export function parseRoute(hash: string): Route {
  const [path, query = ''] = hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { page: 'gallery' };
  if (parts[0] === 'pairs' && parts.length === 2) return { page: 'pair', slug: parts[1] };
  if (parts[0] === 'create' && parts.length === 1) {
    const fork = new URLSearchParams(query).get('fork');
    return fork ? { page: 'create', fork } : { page: 'create' };
  }
  return { page: 'missing', path };
}

export const href = {
  gallery: () => '#/',
  pair: (slug: string) => `#/pairs/${encodeURIComponent(slug)}`,
  create: (fork?: string) => (fork ? `#/create?fork=${encodeURIComponent(fork)}` : '#/create'),
};

class Router {
  route = $state<Route>(parseRoute(location.hash));
  constructor() {
    addEventListener('hashchange', () => {
      this.route = parseRoute(location.hash);
      scrollTo(0, 0);
    });
  }
  go(to: string): void {
    location.hash = to;
  }
}

export const router = new Router();
