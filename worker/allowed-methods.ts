/**
 * Which methods a path takes, read from the app's own route table, so that a known path asked
 * with another method is a 405 with `Allow` rather than a 404. Built once per app.
 */
type Route = { method: string; path: string };

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function patternOf(path: string): RegExp {
  const parts = path.split('/').map((seg) => (seg.startsWith(':') ? '[^/]+' : escape(seg)));
  return new RegExp(`^${parts.join('/')}$`);
}

/** A function from a request path to the methods some route takes there (empty when none). */
export function allowedMethods(routes: readonly Route[]): (path: string) => string[] {
  const table: Array<{ re: RegExp; method: string }> = [];
  for (const r of routes) {
    // Middleware (`ALL`, wildcards) is not a route of its own.
    if (r.method === 'ALL' || r.path.includes('*')) continue;
    table.push({ re: patternOf(r.path), method: r.method.toUpperCase() });
  }
  return (path) => {
    const methods = new Set(table.filter((t) => t.re.test(path)).map((t) => t.method));
    if (!methods.size) return [];
    if (methods.has('GET')) methods.add('HEAD');
    // The CORS middleware answers OPTIONS on every API path.
    methods.add('OPTIONS');
    const order = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
    return [...methods].sort((a, b) => order.indexOf(a) - order.indexOf(b));
  };
}
