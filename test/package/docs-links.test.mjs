// Every relative link and #anchor in the README and docs/, and every link
// into the repository that code and shipped files emit (advice, runbooks),
// resolves to a file and a heading that exist. The README stays short.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ADVICE_DOCS_PREFIX, ADVICE_KINDS } from '../../dist/internal.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REPO_URL = 'https://github.com/loopguard/loopguard/blob/main/';
const DOCS = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).map((f) => `docs/${f}`)];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a Markdown file's headings (outside code fences), with GitHub's -1, -2 for repeats. */
function anchorsOf(file) {
  const anchors = new Set();
  let fence = false;
  for (const line of fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    const m = !fence && /^#{1,6} (.*)$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]);
    let anchor = base;
    for (let i = 1; anchors.has(anchor); i++) anchor = `${base}-${i}`;
    anchors.add(anchor);
  }
  return anchors;
}

/** Markdown links outside code: [text](target). */
function linksOf(file) {
  const links = [];
  let fence = false;
  for (const line of fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    if (fence) continue;
    for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)) links.push(m[1]);
  }
  return links;
}

/** Resolves `target` as seen from `from` (a repo-relative file); returns a problem, or null. */
function check(from, target) {
  if (/^(https?:|mailto:)/.test(target)) return null;
  const [file, anchor] = target.split('#');
  const resolved = file === '' ? from : path.posix.normalize(path.posix.join(path.posix.dirname(from), file));
  if (!fs.existsSync(path.join(ROOT, resolved))) return `${from}: ${target}: no file ${resolved}`;
  if (anchor !== undefined && anchor !== '' && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor)) return `${from}: ${target}: no heading #${anchor} in ${resolved}`;
  return null;
}

/** A link into this repository on GitHub, checked against the working tree. */
function checkRepoUrl(where, url) {
  assert.ok(url.startsWith(REPO_URL), `${where}: ${url} does not point into ${REPO_URL}`);
  return check('README.md', url.slice(REPO_URL.length));
}

test('the README is short: at most 15 KB, the rest lives in docs/', () => {
  const size = fs.statSync(path.join(ROOT, 'README.md')).size;
  assert.ok(size <= 15 * 1024, `README.md is ${(size / 1024).toFixed(1)} KB`);
});

test('every relative link and #anchor in README.md and docs/ resolves', () => {
  const problems = DOCS.flatMap((file) => linksOf(file).map((target) => check(file, target))).filter(Boolean);
  assert.deepEqual(problems, []);
});

test('advice links that reports carry resolve to a section of docs/advice.md', () => {
  const problems = ADVICE_KINDS.map((kind) => checkRepoUrl(`advice ${kind}`, ADVICE_DOCS_PREFIX + kind)).filter(Boolean);
  assert.deepEqual(problems, []);
});

test('runbook links in the shipped alert rules, and links in the dashboard, resolve', () => {
  const rules = parse(fs.readFileSync(path.join(ROOT, 'grafana/alerts.yml'), 'utf8'));
  const runbooks = rules.groups.flatMap((g) => g.rules).map((r) => [r.alert, r.annotations.runbook_url]);
  assert.ok(runbooks.length >= 6);
  const dashboard = fs.readFileSync(path.join(ROOT, 'grafana/dashboards/loopguard-dashboard.json'), 'utf8');
  const dashboardLinks = [...dashboard.matchAll(/https:\/\/github\.com\/loopguard\/loopguard[^"\s)\\]*/g)].map((m) => ['dashboard', m[0]]);
  const problems = [...runbooks, ...dashboardLinks].map(([where, url]) => checkRepoUrl(where, url)).filter(Boolean);
  assert.deepEqual(problems, []);
});

test('the link checker itself fails on a missing heading and a missing file', () => {
  assert.match(check('README.md', 'docs/advice.md#advice-no-such-kind'), /no heading/);
  assert.match(check('README.md', 'docs/no-such-page.md'), /no file/);
  assert.equal(check('README.md', 'docs/advice.md#advice-cpu'), null);
});

test('the alert table in docs/alerting.md lists exactly the shipped rules', () => {
  const rules = parse(fs.readFileSync(path.join(ROOT, 'grafana/alerts.yml'), 'utf8')).groups.flatMap((g) => g.rules.map((r) => r.alert));
  const page = fs.readFileSync(path.join(ROOT, 'docs/alerting.md'), 'utf8');
  const table = [...page.matchAll(/^\| `(LoopGuard\w+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual([...table].sort(), [...rules].sort());
});
