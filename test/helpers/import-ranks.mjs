// The layers of src/ and the checks the architecture test runs on them.
// Pure: give it a graph (file → files it imports, type-only imports
// included), get the violations. docs/architecture.md shows the same table.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * Rank → the folders (ending in /) and root files that hold it. A file may
 * import only its own rank or lower ones, and no two folders may import
 * each other (directly or round a longer loop).
 */
export const RANKS = [
  ['contract/', 'errors.ts', 'catalogue.ts', 'validate.ts'], // 0 base: what both threads and every layer share
  ['advice/'], // 1 pure advice from frames and sources
  ['core/'], // 2 the kernel
  ['busy/', 'routes/'], // 3 the kernel's companions: busy-time sampling, route resolvers
  ['collectors/'], // 4 what accumulates, the read model, the snapshot
  ['prometheus/', 'otel/', 'view/', 'shed/'], // 5 consumers of the read model
  ['options.ts', 'watchdog/'], // 6 the resolved options; the worker thread's program
  ['compose.ts', 'create-guard.ts', 'guard-internals.ts', 'thread-guard.ts'], // 7 the composition and the public guard
  ['adapters/', 'register/'], // 8 frameworks and the zero-code start's servers
  ['budget/', 'env-options.ts', 'register.ts', 'index.ts', 'internal.ts', 'worker.ts'], // 9 entry points
];

/** The unit a file belongs to: its top folder (`core/`) or itself at the root (`options.ts`). */
export function unitOf(file) {
  const slash = file.indexOf('/');
  return slash === -1 ? file : file.slice(0, slash + 1);
}

export function rankOf(unit) {
  const rank = RANKS.findIndex((units) => units.includes(unit));
  return rank === -1 ? undefined : rank;
}

/** file (relative to `src`, `/`-separated) → the src files it imports, type-only imports included. */
export function importGraph(src) {
  const files = new Set(sourceFiles(src));
  const graph = new Map();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = [];
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const resolved = path.resolve(path.dirname(file), fileName);
      const hit = [`${resolved}.ts`, path.join(resolved, 'index.ts'), resolved.replace(/\.js$/, '.ts')].find((c) => files.has(c));
      if (hit) targets.push(rel(src, hit));
    }
    graph.set(rel(src, file), targets);
  }
  return graph;
}

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

function rel(src, file) {
  return path.relative(src, file).split(path.sep).join('/');
}

/** Files whose unit has no rank. */
export function unranked(graph) {
  return [...graph.keys()].filter((file) => rankOf(unitOf(file)) === undefined);
}

/** `a -> b` for every import from a lower rank to a higher one. */
export function upwardImports(graph) {
  const out = [];
  for (const [file, targets] of graph) {
    const from = rankOf(unitOf(file));
    for (const target of targets) {
      const to = rankOf(unitOf(target));
      if (from !== undefined && to !== undefined && to > from) out.push(`${file} (rank ${from}) -> ${target} (rank ${to})`);
    }
  }
  return out;
}

/** unit → the other units it imports. */
export function unitGraph(graph) {
  const units = new Map();
  for (const [file, targets] of graph) {
    const from = unitOf(file);
    if (!units.has(from)) units.set(from, new Set());
    for (const target of targets) if (unitOf(target) !== from) units.get(from).add(unitOf(target));
  }
  return units;
}

/** Cycles in a graph of name → iterable of names, each as `a -> b -> a`. */
export function cycles(graph) {
  const state = new Map(); // 1: on the current path, 2: done
  const found = [];
  const visit = (node, trail) => {
    state.set(node, 1);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 1) found.push([...trail.slice(trail.indexOf(next)), next].join(' -> '));
      else if (!state.has(next)) visit(next, [...trail, next]);
    }
    state.set(node, 2);
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node, [node]);
  return found;
}
