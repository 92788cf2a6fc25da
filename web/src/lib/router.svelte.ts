/**
 * A history router: `/`, `/pairs/<slug>`, `/pairs/<slug>/contribute`, `/create[?fork=<slug>]`. The worker serves index.html
 * for any path that is not an asset, so a shared pair link opens straight on its page, and the
 * same link is a model URL `stripes translate --model` accepts.
 */
export type Route =
  | { page: 'gallery' }
  | { page: 'pair'; slug: string }
  | { page: 'contribute'; slug: string }
  | { page: 'create'; fork?: string }
  | { page: 'missing'; path: string };

export function parseRoute(pathname: string, search: string): Route {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { page: 'gallery' };
  if (parts[0] === 'pairs' && parts.length === 2) return { page: 'pair', slug: parts[1] };
  if (parts[0] === 'pairs' && parts.length === 3 && parts[2] === 'contribute') return { page: 'contribute', slug: parts[1] };
  if (parts[0] === 'create' && parts.length === 1) {
    const fork = new URLSearchParams(search).get('fork');
    return fork ? { page: 'create', fork } : { page: 'create' };
  }
  return { page: 'missing', path: pathname };
}

export const href = {
  gallery: () => '/',
  pair: (slug: string) => `/pairs/${encodeURIComponent(slug)}`,
  contribute: (slug: string) => `/pairs/${encodeURIComponent(slug)}/contribute`,
  create: (fork?: string) => (fork ? `/create?fork=${encodeURIComponent(fork)}` : '/create'),
};

class Router {
  route = $state<Route>(parseRoute(location.pathname, location.search));

  constructor() {
    addEventListener('popstate', () => this.#sync());
    // Plain same-origin links navigate inside the app; new tabs, downloads and the API do not.
    document.addEventListener('click', (e) => {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      const a = (e.target as Element | null)?.closest?.('a');
      if (!a || a.target || a.hasAttribute('download')) return;
      const url = new URL(a.href, location.href);
      if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
      e.preventDefault();
      this.go(url.pathname + url.search);
    });
  }

  #sync(): void {
    this.route = parseRoute(location.pathname, location.search);
  }

  go(to: string): void {
    if (to !== location.pathname + location.search) history.pushState(null, '', to);
    this.#sync();
    scrollTo(0, 0);
  }
}

export const router = new Router();
