// The import graph of src/ (type-only imports included: they are dependencies too):
// no cycles, and core/ at the bottom imports nothing above it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Folders and files above core: core must not import them. */
const ABOVE_CORE = ['exporters/', 'otel/', 'view/', 'shed/', 'adapters/', 'routes/', 'test/', 'register/', 'register.ts', 'create-guard.ts', 'index.ts', 'internal.ts'];

function sourceFiles(dir = SRC) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** file (relative to src/) -> the src/ files it imports. */
function importGraph() {
  const graph = new Map();
  const files = new Set(sourceFiles());
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = [];
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const resolved = path.resolve(path.dirname(file), fileName);
      const candidates = [`${resolved}.ts`, path.join(resolved, 'index.ts'), resolved.replace(/\.js$/, '.ts')];
      const hit = candidates.find((c) => files.has(c));
      if (hit) targets.push(rel(hit));
    }
    graph.set(rel(file), targets);
  }
  return graph;
}

function rel(file) {
  return path.relative(SRC, file).split(path.sep).join('/');
}

test('architecture: the import graph of src/ has no cycles', () => {
  const graph = importGraph();
  const state = new Map(); // 1: on the current path, 2: done
  const cycles = [];
  const visit = (node, trail) => {
    state.set(node, 1);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 1) cycles.push([...trail.slice(trail.indexOf(next)), next].join(' -> '));
      else if (!state.has(next)) visit(next, [...trail, next]);
    }
    state.set(node, 2);
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node, [node]);
  assert.deepEqual(cycles, [], `import cycles:\n${cycles.join('\n')}`);
});

test('architecture: core/ imports nothing from the layers above it', () => {
  const graph = importGraph();
  const violations = [];
  for (const [file, targets] of graph) {
    if (!file.startsWith('core/')) continue;
    for (const target of targets) if (ABOVE_CORE.some((above) => target === above || target.startsWith(above))) violations.push(`${file} -> ${target}`);
  }
  assert.deepEqual(violations, [], `core imports upward:\n${violations.join('\n')}`);
});

test('architecture: the checks see the graph (a sanity check on the parser)', () => {
  const graph = importGraph();
  assert.ok(graph.get('create-guard.ts')?.includes('core/guard.ts'), 'create-guard.ts imports core/guard.ts');
  assert.ok(graph.get('core/guard.ts')?.includes('core/stall-pipeline.ts'));
});
