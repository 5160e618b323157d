// Runs in a forked child process: HTTP traffic that the server's blocked
// event loop cannot hold back. Driven over IPC by client.mjs.
const victims = { running: false, loops: [], sent: 0, statuses: {}, latenciesMs: [] };

async function request({ url, method = 'GET', jsonBytes, body, headers = {} }) {
  const started = performance.now();
  let payload = body;
  if (jsonBytes) {
    // A large JSON document, built here so it never crosses the IPC channel.
    const item = { name: 'x'.repeat(40), values: [1, 2, 3, 4, 5], nested: { a: true, b: null } };
    const one = JSON.stringify(item);
    payload = `[${Array(Math.ceil(jsonBytes / (one.length + 1))).fill(one).join(',')}]`;
    headers = { ...headers, 'content-type': 'application/json' };
  }
  try {
    const res = await fetch(url, { method, body: payload, headers });
    const text = await res.text();
    return { status: res.status, ms: performance.now() - started, headers: Object.fromEntries(res.headers), text: text.slice(0, 2000) };
  } catch (err) {
    return { status: 0, ms: performance.now() - started, error: String(err?.cause?.code ?? err?.message ?? err) };
  }
}

async function victimLoop(url) {
  while (victims.running) {
    const r = await request({ url });
    victims.sent++;
    victims.statuses[r.status] = (victims.statuses[r.status] ?? 0) + 1;
    victims.latenciesMs.push(r.ms);
  }
}

// Mixed load: several URLs, each with its own concurrency and statistics.
const load = { running: false, loops: [], targets: [] };

function freshStats(target) {
  return { name: target.name, sent: 0, statuses: {}, latenciesMs: [], retryAfter: {} };
}

async function loadLoop(target) {
  while (load.running) {
    const r = await request({ url: target.url });
    const stats = target.stats;
    stats.sent++;
    stats.statuses[r.status] = (stats.statuses[r.status] ?? 0) + 1;
    stats.latenciesMs.push(r.ms);
    const retry = r.headers?.['retry-after'];
    if (r.status === 503) stats.retryAfter[retry ?? 'missing'] = (stats.retryAfter[retry ?? 'missing'] ?? 0) + 1;
  }
}

process.on('message', async (msg) => {
  if (msg.type === 'request') {
    process.send({ type: 'response', id: msg.id, result: await request(msg.options) });
  } else if (msg.type === 'victims:start') {
    Object.assign(victims, { running: true, sent: 0, statuses: {}, latenciesMs: [] });
    victims.loops = Array.from({ length: msg.concurrency }, () => victimLoop(msg.url));
    process.send({ type: 'victims:started', id: msg.id });
  } else if (msg.type === 'victims:stop') {
    victims.running = false;
    await Promise.all(victims.loops);
    process.send({ type: 'victims:stopped', id: msg.id, result: { sent: victims.sent, statuses: victims.statuses, latenciesMs: victims.latenciesMs } });
  } else if (msg.type === 'load:start') {
    load.running = true;
    load.targets = msg.targets.map((t) => ({ ...t, stats: freshStats(t) }));
    load.loops = load.targets.flatMap((t) => Array.from({ length: t.concurrency }, () => loadLoop(t)));
    process.send({ type: 'load:started', id: msg.id });
  } else if (msg.type === 'load:mark') {
    // Statistics restart here (requests in flight are counted in the new period); returns the period that ended.
    const ended = Object.fromEntries(load.targets.map((t) => [t.name, t.stats]));
    for (const t of load.targets) t.stats = freshStats(t);
    process.send({ type: 'load:marked', id: msg.id, result: ended });
  } else if (msg.type === 'load:stop') {
    load.running = false;
    await Promise.all(load.loops);
    process.send({ type: 'load:stopped', id: msg.id, result: Object.fromEntries(load.targets.map((t) => [t.name, t.stats])) });
  } else if (msg.type === 'exit') {
    process.exit(0);
  }
});
process.send({ type: 'ready' });
