// The import graph of src/ (type-only imports included: they are
// dependencies too) against the table of ranks in test/helpers/import-ranks.mjs:
// every folder ranked, no import upward, no cycle between files or folders.
// LOOPGUARD_ARCH_SRC=<a src/ folder> runs the same checks on another tree
// (the closing note of the kernel issue ran it on the tree before it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { cycles, importGraph, RANKS, unitGraph, unranked, upwardImports } from '../helpers/import-ranks.mjs';

const SRC = process.env.LOOPGUARD_ARCH_SRC ?? fileURLToPath(new URL('../../src/', import.meta.url));
const graph = importGraph(SRC);

test('architecture: every file of src/ is in a ranked folder or is a ranked root file', () => {
  assert.deepEqual(unranked(graph), [], 'add the folder or file to RANKS in test/helpers/import-ranks.mjs (and to docs/architecture.md)');
});

test('architecture: no import from a lower rank to a higher one', () => {
  const violations = upwardImports(graph);
  assert.deepEqual(violations, [], `imports upward:\n${violations.join('\n')}`);
});

test('architecture: no folder imports a folder that imports it back (folder-level cycles)', () => {
  const found = cycles(unitGraph(graph));
  assert.deepEqual(found, [], `folder cycles:\n${found.join('\n')}`);
});

test('architecture: no file-level import cycles', () => {
  const found = cycles(graph);
  assert.deepEqual(found, [], `import cycles:\n${found.join('\n')}`);
});

test('architecture: the kernel imports only the base, advice and itself', () => {
  const outside = [];
  for (const [file, targets] of graph) {
    if (!file.startsWith('core/')) continue;
    for (const target of targets) if (!/^(core|contract|advice)\/|^(errors|catalogue|validate)\.ts$/.test(target)) outside.push(`${file} -> ${target}`);
  }
  assert.deepEqual(outside, []);
});

test('architecture: the checks see violations (the checker on a made-up graph)', () => {
  const made = new Map([
    ['core/kernel.ts', ['prometheus/exporter.ts', 'contract/messages.ts']],
    ['prometheus/exporter.ts', ['core/kernel.ts']],
    ['contract/messages.ts', []],
    ['mystery/thing.ts', []],
  ]);
  assert.deepEqual(upwardImports(made), ['core/kernel.ts (rank 2) -> prometheus/exporter.ts (rank 5)']);
  assert.deepEqual(cycles(unitGraph(made)), ['core/ -> prometheus/ -> core/']);
  assert.deepEqual(unranked(made), ['mystery/thing.ts']);
  assert.equal(RANKS.flat().length, new Set(RANKS.flat()).size, 'a unit appears in one rank only');
});

test('architecture: the graph is read (a sanity check on the parser)', () => {
  assert.ok(graph.get('create-guard.ts')?.includes('compose.ts'));
  assert.ok(graph.get('core/kernel.ts')?.includes('core/stall-pipeline.ts'));
  assert.ok(graph.get('core/kernel.ts')?.includes('contract/messages.ts'), 'type-only imports count');
});

test('architecture: the README and docs/architecture.md show the same table of ranks', async () => {
  const { readFileSync } = await import('node:fs');
  for (const doc of ['../../README.md', '../../docs/architecture.md']) {
    const text = readFileSync(new URL(doc, import.meta.url), 'utf8');
    const rows = [...text.matchAll(/^\| (\d+) \| [^|]+ \| ([^|]+) \|$/gm)].map((m) => [Number(m[1]), [...m[2].matchAll(/`([^`]+)`/g)].map((u) => u[1])]);
    assert.deepEqual(rows.map(([rank]) => rank), RANKS.map((_, i) => i), `${doc}: one row per rank`);
    for (const [rank, units] of rows) assert.deepEqual(units, RANKS[rank], `${doc}: rank ${rank}`);
  }
});
