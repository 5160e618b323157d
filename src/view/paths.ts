import { isAbsolute, relative, sep } from 'node:path';

/**
 * How a stack frame's file is shown to whoever can open the live page: paths
 * under the app root become relative, and nothing else of the filesystem
 * layout (home directories, deploy paths, user names) leaves the process.
 */
export function displayPath(url: string, root: string): string {
  if (url === '' || url.startsWith('node:')) return url;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url);
  if (scheme) return `${scheme[0]}…/${basename(url)}`;
  if (!isAbsolute(url)) return basename(url);
  const rel = relative(root, url);
  if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) return toSlashes(rel);
  // Outside the app root: a dependency installed elsewhere keeps its package path, anything else only its name.
  const slashed = toSlashes(url);
  const at = slashed.lastIndexOf('/node_modules/');
  if (at >= 0) return slashed.slice(at + 1);
  return `…/${basename(slashed)}`;
}

function toSlashes(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}

function basename(path: string): string {
  const clean = path.replace(/[?#].*$/, '');
  const at = Math.max(clean.lastIndexOf('/'), clean.lastIndexOf('\\'));
  return at >= 0 ? clean.slice(at + 1) : clean;
}
