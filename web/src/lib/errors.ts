/**
 * Messages shown on the page read as sentences: a capital first letter, and the words of the
 * form ("address" for the API's slug). A message that starts with a file name keeps it as is.
 */
export function sentence(message: string): string {
  const m = message.replace(/\bslugs?\b/g, (w) => (w === 'slugs' ? 'addresses' : 'address')).trim();
  const first = m.split(/[\s:]/, 1)[0];
  if (/\.[a-z0-9]+$/i.test(first)) return m;
  return m.charAt(0).toUpperCase() + m.slice(1);
}
