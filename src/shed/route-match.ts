/**
 * Route templates (`/users/:id`) compiled into matchers for raw request URLs.
 *
 * Express runs middleware before routing, so when a request arrives the
 * shedder only has its URL. Templates are compiled once, when the culprit set
 * changes; each matcher accepts the URL as it comes (query string included)
 * so a check allocates nothing. Matching follows Express defaults:
 * case-insensitive, an optional trailing slash.
 */

/** A parameter stops at a slash and at the start of the query string or fragment. */
const SEGMENT = '[^/?#]+';
const REST = '[^?#]+';
const TAIL = '/?(?:[?#].*)?$';

/**
 * Regex source for one template, or null for shapes not recognised (regular
 * expression routes, stray brackets): those are never matched by path.
 * Understands Express 4 (`:id?`, `:id(\\d+)`, `*`) and Express 5
 * (`*splat`, `{/:optional}`) syntax, and `a|b` as an array of paths.
 */
export function templateSource(template: string): string | null {
  const alternatives = template.split('|');
  const sources: string[] = [];
  for (const alt of alternatives) {
    const source = single(alt);
    if (source === null) return null;
    sources.push(source);
  }
  return sources.length === 1 ? sources[0]! : `(?:${sources.join('|')})`;
}

function single(template: string): string | null {
  // `String(/^\/api/i)` is what a RegExp route looks like as a label: not a path.
  if (!template.startsWith('/') || template.includes('^')) return null;
  let out = '';
  let groups = 0;
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c === ':') {
      const name = /^(?:[A-Za-z_$][\w$]*|"[^"]*")/.exec(template.slice(i + 1));
      if (name === null) return null;
      i += name[0].length;
      if (template[i + 1] === '(') {
        // Express 4 parameter pattern: approximated by "one segment".
        const close = closingParen(template, i + 1);
        if (close < 0) return null;
        i = close;
      }
      const modifier = template[i + 1];
      if (modifier === '?' && out.endsWith('/')) {
        out = `${out.slice(0, -1)}(?:/${SEGMENT})?`;
        i++;
      } else if (modifier === '*' || modifier === '+') {
        out += modifier === '*' ? `(?:${REST})?` : REST;
        i++;
      } else {
        out += SEGMENT;
      }
    } else if (c === '*') {
      const name = /^[A-Za-z_$][\w$]*/.exec(template.slice(i + 1));
      // Express 5 `*name` needs at least one character; Express 4 `*` matches anything, even nothing.
      out += name === null ? `(?:${REST})?` : REST;
      if (name !== null) i += name[0].length;
    } else if (c === '{') {
      out += '(?:';
      groups++;
    } else if (c === '}') {
      if (groups === 0) return null;
      out += ')?';
      groups--;
    } else if (c === '\\') {
      const next = template[++i];
      if (next === undefined) return null;
      out += escape(next);
    } else if ('()[]+?'.includes(c)) {
      return null;
    } else {
      out += escape(c);
    }
  }
  if (groups !== 0) return null;
  return out.endsWith('/') ? out.slice(0, -1) : out;
}

function closingParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '(') depth++;
    else if (s[i] === ')' && --depth === 0) return i;
  }
  return -1;
}

function escape(c: string): string {
  return /[.*+?^${}()|[\]\\]/.test(c) ? `\\${c}` : c;
}

/** A matcher for one template, or null if it cannot be matched by path. */
export function compileTemplate(template: string): RegExp | null {
  const source = templateSource(template);
  return source === null ? null : new RegExp(`^${source}${TAIL}`, 'i');
}

/**
 * One matcher for a list of templates and regular expressions (the exempt
 * list), so an exemption check is a single test. A RegExp entry is tested
 * against the path without its query string. Throws on a template it cannot read.
 */
export function compileList(entries: readonly (string | RegExp)[]): { test(url: string): boolean } | null {
  const sources: string[] = [];
  const regexps: RegExp[] = [];
  for (const entry of entries) {
    if (entry instanceof RegExp) {
      // A global or sticky RegExp keeps lastIndex between tests; a copy without those flags does not.
      regexps.push(new RegExp(entry.source, entry.flags.replace(/[gy]/g, '')));
      continue;
    }
    const source = templateSource(entry);
    if (source === null) throw new TypeError(`cannot read the path template ${JSON.stringify(entry)}`);
    sources.push(source);
  }
  const combined = sources.length > 0 ? new RegExp(`^(?:${sources.join('|')})${TAIL}`, 'i') : null;
  if (regexps.length === 0) return combined;
  return {
    test(url: string): boolean {
      if (combined !== null && combined.test(url)) return true;
      const q = url.search(/[?#]/);
      const path = q < 0 ? url : url.slice(0, q);
      for (const r of regexps) if (r.test(path)) return true;
      return false;
    },
  };
}
