/**
 * The one path join of route templates: a mount prefix and a route path,
 * with exactly one slash between them; an empty or root side adds nothing.
 */
export function joinPaths(a: string, b: string): string {
  if (a === '' || a === '/') return b === '' ? a : b;
  if (b === '' || b === '/') return a;
  return a.endsWith('/') ? a + b.replace(/^\//, '') : a + (b.startsWith('/') ? b : `/${b}`);
}
