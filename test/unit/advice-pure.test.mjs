// Advice, tested without a process to pause: the classifier on hand-made
// evidence (frames as the watchdog captures them, source as the inspector
// returns it) and the worker's bounded script cache.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { classifyPause, gcAdvice, ADVICE_KINDS, docsFor, adviceFor, findCalls, ScriptSources, dominantAdvice, splitStall } from '../../dist/internal.js';

const APP = '/srv/app/src/routes.js';
const frame = (functionName, url, lineNumber, columnNumber = 1) => ({ functionName, url, lineNumber, columnNumber });
/** Line and 1-based column of the first occurrence of `needle` in `text`. */
function at(text, needle) {
  const offset = text.indexOf(needle);
  assert.ok(offset >= 0, `fixture contains ${needle}`);
  const before = text.slice(0, offset).split('\n');
  return [before.length, before[before.length - 1].length + 1];
}
const appFrame = (name, text, needle, url = APP) => frame(name, url, ...at(text, needle));
const classify = (stack, sources, prompt = false) => classifyPause({ stack, sources: sources.map((text) => text && { text }), prompt });

describe('evidence from Node\'s own frames', () => {
  const src = "export function hashPassword(p) {\n  const h = crypto.pbkdf2Sync(p, salt, 600000, 64, 'sha512');\n  return h.toString('hex');\n}\n";

  test("the frame of Node's module called from outside Node names the API", () => {
    const stack = [frame('from', 'node:buffer', 296), frame('pbkdf2Sync', 'node:internal/crypto/pbkdf2', 78), appFrame('hashPassword', src, 'pbkdf2Sync'), frame('listOnTimeout', 'node:internal/timers', 581)];
    const advice = classify(stack, [undefined, undefined, src], false);
    assert.equal(advice.call, 'crypto.pbkdf2Sync');
    assert.equal(advice.kind, 'sync-crypto');
    assert.match(advice.fix, /crypto\.pbkdf2\b/);
    assert.equal(advice.docs, docsFor('sync-crypto'));
  });

  test('even with no source to read, and whether or not the pause was prompt', () => {
    const stack = [frame('execSync', 'node:child_process', 961), frame('shellOut', APP, 15)];
    for (const prompt of [true, false]) assert.equal(classify(stack, [], prompt)?.call, 'child_process.execSync');
    const fs = [frame('tryReadSync', 'node:fs', 400), frame('readFileSync', 'node:fs', 450), frame('load', APP, 3)];
    assert.equal(classify(fs, [])?.call, 'fs.readFileSync');
  });

  test("zlib's shared wrapper gives the kind; the caller's source gives the call, else none", () => {
    const code = 'function exportCsv(rows) {\n  const gz = zlib.gzipSync(Buffer.from(rows.join("\\n")), { level: 9 });\n  return gz.length;\n}\n';
    const stack = [frame('processChunkSync', 'node:zlib', 435), frame('zlibBufferSync', 'node:zlib', 178), frame('syncBufferWrapper', 'node:zlib', 767), appFrame('exportCsv', code, 'gzipSync')];
    assert.equal(classify(stack, [, , , code], true).call, 'zlib.gzipSync');
    const blind = classify(stack, [], true);
    assert.deepEqual([blind.kind, blind.call], ['sync-zlib', null]);
  });

  test('a Node frame that is not a blocking API (console, timers, buffers) says nothing by itself', () => {
    const stack = [frame('writeSync', 'node:internal/fs/sync_write_stream', 20), frame('log', 'node:internal/console/constructor', 380), frame('handler', APP, 2)];
    assert.equal(classify(stack, [], false), null);
  });
});

describe('evidence from the source around a late pause', () => {
  test('the call that just returned, before the pause on the same line', () => {
    const code = "export function loadTemplate() { const t = fs.readFileSync(path, 'utf8'); return t.split('\\n').length; }\n";
    const advice = classify([appFrame('loadTemplate', code, "split('"), frame('listOnTimeout', 'node:internal/timers', 581)], [code]);
    assert.deepEqual([advice.kind, advice.call], ['sync-fs', 'fs.readFileSync']);
    assert.match(advice.fix, /fs\.promises\.readFile\b/);
  });

  test('a few lines up, in the same function; a call written after the pause is not blamed', () => {
    const code = [
      'export function readFeed(limit) {',
      '  const feed = JSON.parse(feedText);',
      '  const visible = feed.filter((item) => item.stock.qty > 0);',
      '  fs.writeFileSync(cachePath, "x");',
      '  return visible.slice(0, limit);',
      '}',
    ].join('\n');
    const advice = classify([appFrame('(anonymous)', code, 'item.stock'), appFrame('readFeed', code, 'filter(')], [code, code]);
    assert.deepEqual([advice.kind, advice.call], ['json', 'JSON.parse']);
    const sameLine = 'function save(rows) {\n  const out = rows.map(format); fs.writeFileSync(path, out.join(""));\n}\n';
    assert.equal(classify([appFrame('save', sameLine, 'map(')], [sameLine]), null, 'the write has not run yet');
  });

  test("the pause landed in a library function the caller called next: the caller's source names the call", () => {
    const lib = 'function next(err) {\n  var layer = stack[idx++];\n}\n';
    const code = 'function parse(body) {\n  req.body = JSON.parse(body);\n  next();\n}\n';
    const stack = [frame('next', '/srv/app/node_modules/router/index.js', 2, 3), appFrame('parse', code, 'next()')];
    assert.equal(classify(stack, [lib, code])?.call, 'JSON.parse');
  });

  test('a late pause lands on a call that has not run yet: the call before it is the one that returned', () => {
    // secure-json-parse (Fastify's body parser): JSON.parse, then option checks, then a scan with a regex.
    const sjp = [
      'function _parse (text, reviver, options) {',
      '  const obj = JSON.parse(text, reviver)',
      ...Array.from({ length: 12 }, (_, i) => `  if (opt${i} === 'ignore') { return obj }`),
      '  if (suspectProtoRx.test(text) === false && suspectConstructorRx.test(text) === false) {',
      '    return obj',
      '  }',
      '}',
      'const suspectProtoRx = /"(?:_|\\\\u005[Ff])(?:_|\\\\u005[Ff])(?:p|\\\\u0070)/',
      'const suspectConstructorRx = /"(?:c|\\\\u0063)(?:o|\\\\u006[Ff])/',
    ].join('\n');
    const lib = '/srv/app/node_modules/secure-json-parse/index.js';
    const late = classify([frame('_parse', lib, ...at(sjp, 'test(text) === false &&'))], [sjp], false);
    assert.deepEqual([late.kind, late.call], ['json', 'JSON.parse']);
    const prompt = classify([frame('_parse', lib, ...at(sjp, 'test(text) === false &&'))], [sjp], true);
    assert.deepEqual([prompt.kind, prompt.call], ['regex', 'RegExp.prototype.test'], 'the scan itself, caught running');
  });

  test("express.json(): body-parser's read() returns from the type's parser into next(), after a late pause only", () => {
    const read = "    str = iconv.decode(body, encoding)\n    req.body = parse(str, encoding)\n  } catch (err) {\n    next(err)\n    return\n  }\n  next()\n";
    // Paused on entering the router's next(): nothing ran there yet.
    const router = 'function next (err) {\n  // Remember the error even when its callback was not traced.\n  if (err) recordError(req, err)\n}\n';
    const stack = [frame('next', '/srv/app/node_modules/router/index.js', 3, 3), appFrame('(anonymous)', read, 'next()\n', '/srv/app/node_modules/body-parser/lib/read.js')];
    assert.equal(classify(stack, [router, read], false)?.call, 'JSON.parse');
    assert.equal(classify(stack, [router, read], true)?.kind, 'cpu', 'a prompt pause there is JavaScript running (qs, a reviver)');
    assert.equal(classify(stack, [undefined, read], false), null, "without the router's source, nothing vouches that it ran nothing");
  });

  test('another call, or an await, between a known call and the pause: nothing is named', () => {
    const helper = [
      'async function handler(req, res) {',
      "  const name = req.params.name.replace(/-/g, ' ');",
      '  const tpl = loadTemplate(name);',
      '  res.send(render(tpl));',
      '}',
    ].join('\n');
    // loadTemplate (ours, opaque) returned just before: the regex on the line above is not to blame.
    assert.equal(classify([appFrame('handler', helper, 'render(')], [helper]), null);
    const awaited = 'async function report() {\n  const cfg = JSON.parse(configText);\n  const rows = await db.query(cfg.sql);\n  return summarise(rows);\n}\n';
    assert.equal(classify([appFrame('report', awaited, 'summarise(')], [awaited]), null, 'JSON.parse ran in an earlier turn');
    // Builtins between are no obstacle; calls inside the known call's own arguments ran before it.
    const fine = "function load(p) {\n  const text = fs.readFileSync(path.join(root, p), 'utf8');\n  const lines = text.split('\\n').slice(1);\n  return lines.map(parse);\n}\n";
    assert.equal(classify([appFrame('load', fine, 'map(')], [fine])?.call, 'fs.readFileSync');
  });

  test('never above the first line of the paused function', () => {
    const code = 'function a() {\n  return fs.readFileSync(p);\n}\nfunction b() {\n  return rows.map(format);\n}\n';
    const stack = [appFrame('b', code, 'map(')];
    assert.equal(classifyPause({ stack, sources: [{ text: code, functionLine: 4 }], prompt: false }), null);
    assert.equal(classifyPause({ stack, sources: [{ text: code }], prompt: false })?.call, 'fs.readFileSync', 'without the bound it would reach a()');
  });

  test("compiled TypeScript's call forms and bare imported names", () => {
    const ts = 'function hash(p) {\n    const h = (0, node_crypto_1.pbkdf2Sync)(p, salt, 1e6, 64, "sha512");\n    return h.toString("hex");\n}\n';
    assert.equal(classify([appFrame('hash', ts, 'toString')], [ts])?.call, 'crypto.pbkdf2Sync');
    const bare = 'const out = execFileSync("convert", args);\nreturn out.length;\n';
    assert.equal(classify([appFrame('thumb', bare, 'length')], [bare])?.call, 'child_process.execFileSync');
  });

  test('a late pause with no known call near it gives no advice, not a guess', () => {
    const code = 'async function handler(req, res) {\n  const hash = hashPassword(req.body.password);\n  res.send(hash.slice(0, 8));\n}\n';
    assert.equal(classify([frame('send', '/srv/app/node_modules/express/lib/response.js', 120), appFrame('handler', code, 'send(')], [undefined, code]), null);
  });
});

describe('a prompt pause: JavaScript still running', () => {
  test('a backtracking regex, named by a literal or by an identifier declared as one', () => {
    const code = "const EMAIL = /^([a-zA-Z0-9_.-]+)+@[a-zA-Z0-9-]+\\.[a-z]{2,}$/;\nexport function isValidEmail(text) {\n  return EMAIL.test(text);\n}\n";
    const advice = classify([appFrame('isValidEmail', code, 'test(')], [code], true);
    assert.deepEqual([advice.kind, advice.call], ['regex', 'RegExp.prototype.test']);
    const literal = 'function search(q) { return /^(a+)+$/.test(q); }\n';
    assert.equal(classify([appFrame('search', literal, 'test(')], [literal], true)?.kind, 'regex');
    const match = 'const WORDS = new RegExp("(\\\\w+\\\\s?)*$");\nfunction words(s) { return s.match(WORDS); }\n';
    assert.equal(classify([appFrame('words', match, 'match(')], [match], true)?.call, 'String.prototype.match');
  });

  test('an object with a test() method is not a regex: the advice is cpu, with no call', () => {
    const code = 'function validate(body) {\n  return schema.test(body);\n}\n';
    const advice = classify([appFrame('validate', code, 'test(')], [code], true);
    assert.deepEqual([advice.kind, advice.call], ['cpu', null]);
    assert.match(advice.fix, /worker_threads|piscina/);
    assert.match(advice.fix, /setImmediate/);
  });

  test('Atomics.wait and JSON.stringify are paused in the act', () => {
    const wait = 'function waitForSlot(ms) {\n  Atomics.wait(view, 0, 0, ms);\n  return 1;\n}\n';
    assert.equal(classify([appFrame('waitForSlot', wait, 'wait(')], [wait], true)?.call, 'Atomics.wait');
    const json = 'function snapshot(rows) { const body = JSON.stringify(rows); return body.length; }\n';
    assert.equal(classify([appFrame('snapshot', json, 'stringify(')], [json], true)?.call, 'JSON.stringify');
  });

  test('a CPU loop under a synchronous call made earlier in the function is cpu, never that call', () => {
    const code = [
      'function summarise(path) {',
      "  const rows = JSON.parse(fs.readFileSync(path, 'utf8'));",
      '  let total = 0;',
      '  for (let i = 0; i < rows.length; i++) total += Math.round(rows[i].amount * RATE);',
      '  return total;',
      '}',
    ].join('\n');
    const advice = classify([frame('get performance', 'node:internal/util', 646), appFrame('summarise', code, 'round(')], [undefined, code], true);
    assert.deepEqual([advice.kind, advice.call], ['cpu', null]);
  });

  test('bcryptjs is pure JavaScript: its own frames on top mean synchronous hashing', () => {
    const code = 'function register(user) {\n  const hash = bcrypt.hashSync(user.password, 12);\n  return save(user, hash);\n}\n';
    const lib = '/srv/app/node_modules/bcryptjs/dist/bcrypt.js';
    const stack = [frame('_crypt', lib, 900), frame('hashSync', lib, 200), appFrame('register', code, 'hashSync')];
    const advice = classify(stack, [undefined, undefined, code], true);
    assert.deepEqual([advice.kind, advice.call], ['sync-crypto', 'bcrypt.hashSync']);
  });
});

test('no frame outside Node: nothing to say', () => {
  assert.equal(classify([frame('processTimers', 'node:internal/timers', 519)], [], true), null);
  assert.equal(classify([], [], true), null);
});

test('gc advice is about allocation and the heap, with no call', () => {
  const advice = gcAdvice();
  assert.deepEqual([advice.kind, advice.call], ['gc', null]);
  assert.match(advice.fix, /alloc/i);
  assert.match(advice.fix, /heap/i);
});

test('every kind has a fix of one or two sentences and a docs/advice.md section to link to', () => {
  const readme = readFileSync(new URL('../../docs/advice.md', import.meta.url), 'utf8');
  for (const kind of ADVICE_KINDS) {
    const advice = adviceFor(kind);
    const sentences = advice.fix.split(/(?<=[.!?])\s+(?=[A-Z])/).length;
    assert.ok(sentences >= 1 && sentences <= 2, `${kind}: ${advice.fix}`);
    assert.ok(advice.docs.endsWith(`#advice-${kind}`), advice.docs);
    assert.ok(readme.includes(`## Advice: \`${kind}\``), `docs/advice.md has a section for ${kind}`);
  }
});

test('findCalls: string contents and comments that only mention a name are still text, so names need a call', () => {
  assert.deepEqual(findCalls('const readFileSync = 1; log("readFileSync")', '').length, 0);
  assert.equal(findCalls('fs.readFileSync (p)', '')[0].known.call, 'fs.readFileSync');
  assert.equal(findCalls('myreadFileSync(p)', '').length, 0, 'whole names only');
});

describe('ScriptSources: the worker\'s cache of script text', () => {
  test('fetches a script once, keeps the most recent within its bounds, forgets oversize scripts', async () => {
    const fetched = [];
    const sources = new ScriptSources(async (id) => {
      fetched.push(id);
      return id === 'big' ? 'x'.repeat(50) : `source of ${id}`;
    }, 2, 1000, 40);
    assert.equal(await sources.get('1'), 'source of 1');
    assert.equal(await sources.get('1'), 'source of 1');
    await sources.get('2');
    await sources.get('1'); // most recent again
    await sources.get('3'); // evicts 2, the least recent
    assert.equal(sources.size, 2);
    await sources.get('1');
    await sources.get('2');
    assert.deepEqual(fetched, ['1', '2', '3', '2']);
    assert.equal(await sources.get('big'), undefined);
    assert.equal(await sources.get('big'), undefined);
    assert.equal(fetched.filter((id) => id === 'big').length, 1, 'an oversize script is not fetched again');
  });

  test('a script the inspector will not give is no evidence, not an error', async () => {
    const sources = new ScriptSources(async () => {
      throw new Error('No script for id: 9');
    });
    assert.equal(await sources.get('9'), undefined);
  });
});

describe('dominantAdvice: one segment, several pauses', () => {
  const json = adviceFor('json', { call: 'JSON.parse', kind: 'json', instead: '' });
  const regex = adviceFor('regex', { call: 'RegExp.prototype.test', kind: 'regex', instead: '' });
  const cpu = adviceFor('cpu');

  test('the advice with the most time behind it; pauses with none vouch for nothing', () => {
    // Body decoding (unnamed, 120 ms), JSON.parse returning late (300 ms), then the prototype scan caught running (60 ms).
    assert.equal(dominantAdvice([{ at: 120, advice: null }, { at: 420, advice: json }, { at: 480, advice: regex }], 0), json);
    // A short native call first, then a long loop caught again and again.
    const samples = [{ at: 80, advice: json }, ...[140, 200, 260, 320].map((at) => ({ at, advice: cpu }))];
    assert.equal(dominantAdvice(samples, 0), cpu);
    assert.equal(dominantAdvice([{ at: 50, advice: null }], 0), null);
  });

  test('on a tie the earlier advice; splitStall gives each segment its own', () => {
    assert.equal(dominantAdvice([{ at: 100, advice: regex }, { at: 200, advice: json }], 0), regex);
    const s = (at, asyncId, advice) => ({ window: 1, at, asyncId, request: { id: asyncId, method: 'GET', route: '/x' }, stack: [], advice });
    const segments = splitStall(0, 600, [s(100, 1, json), s(160, 1, null), s(400, 2, cpu), s(460, 2, cpu)]);
    assert.deepEqual(segments.map((g) => g.advice?.kind), ['json', 'cpu']);
  });
});
