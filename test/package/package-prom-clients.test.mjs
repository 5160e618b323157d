// "The client the app has installed", with real installs: an empty project
// installs the packed tarball, then one Prometheus client, then the other,
// and a fresh process each time shows which default registry loopguard used.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { devRange, packLoopguard, tempProject } from '../helpers/temp-project.mjs';

const run = promisify(execFile);
const CHECK = `
import { createRequire } from 'node:module';
import { createLoopGuard } from 'loopguard';
const require = createRequire(import.meta.url);
const errors = [];
const guard = createLoopGuard({ otel: false, onError: (e) => errors.push({ code: e.code, message: e.message }) });
const which = {};
for (const name of ['prom-client', '@prometheus-io/client']) {
  let lib;
  try { lib = require(name); } catch { continue; }
  which[name] = lib.register.getSingleMetric('loopguard_stalls_total') !== undefined;
}
let handler;
try { guard.metricsHandler(); handler = 'ok'; } catch (e) { handler = e.code; }
console.log(JSON.stringify({ which, errors, handler }));
guard.close();
`;

let project;
const check = async () => JSON.parse((await run(process.execPath, [project.write('check.mjs', CHECK)], { cwd: project.dir })).stdout);

before(async () => {
  project = await tempProject([]);
  const { tarball } = await packLoopguard(project.dir);
  await project.install([tarball]);
});

after(() => project?.close());

test('no client installed: reported once (naming both clients), the guard runs, metricsHandler() throws the coded error', async () => {
  const { which, errors, handler } = await check();
  assert.deepEqual(which, {});
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'LOOPGUARD_MISSING_PEER');
  assert.match(errors[0].message, /@prometheus-io\/client/);
  assert.match(errors[0].message, /prom-client/);
  assert.equal(handler, 'LOOPGUARD_MISSING_PEER');
});

test("only prom-client installed: its default registry", async () => {
  await project.install([devRange('prom-client')]);
  assert.deepEqual(await check(), { which: { 'prom-client': true }, errors: [], handler: 'ok' });
});

test('@prometheus-io/client added beside it (neither loaded first): @prometheus-io/client wins', async () => {
  await project.install([devRange('@prometheus-io/client')]);
  assert.deepEqual(await check(), { which: { 'prom-client': false, '@prometheus-io/client': true }, errors: [], handler: 'ok' });
});
