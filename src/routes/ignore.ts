/**
 * The `ignore` option, compiled once into one predicate on the raw request:
 * it runs before anything is recorded, when no router has matched yet, so
 * templates are matched against the request's path (`/internal/:probe`
 * matches `/internal/ready`), not against a resolved route.
 */
import type { IncomingMessage } from 'node:http';
import { InvalidOptionError } from '../errors';

type IgnorePredicate = (req: IncomingMessage) => boolean;

const EXPECTED = "paths or route templates ('/healthz', '/internal/:probe'), regular expressions, or a function (req) => boolean";

export function compileIgnore(value: unknown): IgnorePredicate | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'function') return guarded(value as IgnorePredicate);
  if (!Array.isArray(value)) throw new InvalidOptionError('ignore', EXPECTED, value);
  if (value.length === 0) return undefined;
  const exact = new Set<string>();
  const patterns: RegExp[] = [];
  for (const [i, rule] of value.entries()) {
    if (rule instanceof RegExp) patterns.push(rule);
    else if (typeof rule === 'string' && rule.startsWith('/')) {
      if (/\/[:*]/.test(rule)) patterns.push(templatePattern(rule));
      else exact.add(trimSlash(rule));
    } else throw new InvalidOptionError(`ignore[${i}]`, EXPECTED, rule);
  }
  return function ignored(req: IncomingMessage): boolean {
    const path = pathOf(req.url);
    if (exact.has(path)) return true;
    for (const pattern of patterns) {
      pattern.lastIndex = 0;
      if (pattern.test(path)) return true;
    }
    return false;
  };
}

/** `/users/:id` → one segment per parameter; `*` → the rest of the path. */
export function templatePattern(template: string): RegExp {
  const source = trimSlash(template)
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}/?$`);
}

/** The path of a request URL: no query string or fragment, no trailing slash (Express's default non-strict routing). */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  let end = url.length;
  const query = url.indexOf('?');
  if (query !== -1) end = query;
  const hash = url.indexOf('#');
  if (hash !== -1 && hash < end) end = hash;
  return trimSlash(end === url.length ? url : url.slice(0, end));
}

function trimSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** A user predicate that throws counts as "not ignored": the request is tracked, the app never sees the error. */
function guarded(predicate: IgnorePredicate): IgnorePredicate {
  return function ignored(req: IncomingMessage): boolean {
    try {
      return predicate(req) === true;
    } catch {
      return false;
    }
  };
}
