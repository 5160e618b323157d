// The cluster primary's trust in what its workers send: only loopback http
// URLs are fetched, a worker's body is capped, and an aggregator the
// Prometheus client does not know cannot fail the whole scrape. The workers
// are simulated: their announcements are emitted on the primary's `cluster`,
// and their metrics servers are plain servers on 127.0.0.1. No stall here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import cluster from 'node:cluster';
import http from 'node:http';
import { clusterMetricsHandler } from 'loopguard';
import { listen } from '../helpers/server.mjs';

const ANNOUNCE = 'loopguard:metrics-server';
let nextWorkerId = 1000;

/** Announces a metrics server as a cluster worker would; returns the fake worker. */
function announce(url) {
  const worker = { id: nextWorkerId++ };
  cluster.emit('message', worker, { type: ANNOUNCE, url });
  return worker;
}

/** A fake worker metrics server answering every request with `body` (a string or a function writing to res). */
async function workerServer(body) {
  return listen(
    http.createServer((req, res) => {
      if (typeof body === 'function') return body(req, res);
      res.setHeader('content-type', 'application/json');
      res.end(body);
    }),
  );
}

function withHandler(fn) {
  const errors = [];
  const handler = clusterMetricsHandler({ onError: (err) => errors.push(err.message), timeoutMs: 5000 });
  return Promise.resolve(fn(handler, errors)).finally(() => handler.close());
}

const counter = (aggregator) => ({ name: 'app_things_total', help: 'things', type: 'counter', aggregator, values: [{ value: 2, labels: {} }] });

test('only loopback http URLs that a worker announces are fetched; anything else is reported and ignored', async () => {
  let fetched = 0;
  const server = await workerServer((req, res) => {
    fetched++;
    res.end(JSON.stringify([counter('sum')]));
  });
  const { port } = new URL(server.url);
  try {
    await withHandler(async (handler, errors) => {
      for (const url of [`http://203.0.113.9:${port}/metrics`, `https://127.0.0.1:${port}/metrics`, `file:///etc/passwd`, `http://user:pw@127.0.0.1:${port}/metrics`, 'not a url']) announce(url);
      assert.deepEqual(await handler.collect(), { text: '', workers: 0, answered: 0 });
      assert.equal(errors.length, 5, errors.join('\n'));
      assert.ok(errors.every((e) => /not a loopback http URL/.test(e)));
      announce(`http://127.0.0.1:${port}/metrics`);
      const result = await handler.collect();
      assert.equal(result.answered, 1);
      assert.equal(fetched, 1);
    });
  } finally {
    await server.close();
  }
});

test("a worker's body over the cap is refused, not read whole; the others still count", async () => {
  const huge = await workerServer((req, res) => {
    // A valid JSON list, 20 MiB long, in 64 KiB pieces.
    res.setHeader('content-type', 'application/json');
    const item = JSON.stringify(counter('sum'));
    const piece = `${item},`.repeat(Math.ceil(65536 / (item.length + 1)));
    let sent = 0;
    res.write('[');
    const more = () => {
      while (sent < 20 * 1024 * 1024) {
        sent += piece.length;
        if (!res.write(piece)) return void res.once('drain', more);
      }
      res.end(`${item}]`);
    };
    res.on('error', () => {});
    more();
  });
  const small = await workerServer(JSON.stringify([counter('sum')]));
  try {
    await withHandler(async (handler, errors) => {
      announce(`${huge.url}/metrics`);
      announce(`${small.url}/metrics`);
      const result = await handler.collect();
      assert.equal(result.workers, 2);
      assert.equal(result.answered, 1, 'the capped worker is left out');
      assert.match(result.text, /app_things_total 2/);
      assert.ok(errors.some((e) => /byte cap/.test(e)), errors.join('\n'));
    });
  } finally {
    await huge.close();
    await small.close();
  }
});

test('an aggregator the Prometheus client does not know sums, instead of failing the whole scrape', async () => {
  const a = await workerServer(JSON.stringify([counter('bogus')]));
  const b = await workerServer(JSON.stringify([counter('sum'), { not: 'a metric' }, null]));
  const front = await listen(http.createServer((req, res) => handler(req, res)));
  let handler;
  try {
    await withHandler(async (h) => {
      handler = h;
      announce(`${a.url}/metrics`);
      announce(`${b.url}/metrics`);
      const res = await fetch(front.url);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('loopguard-cluster-workers'), '2/2');
      assert.match(await res.text(), /app_things_total 4/);
    });
  } finally {
    await front.close();
    await a.close();
    await b.close();
  }
});
