// Runs in a forked child: open-loop HTTP traffic at fixed request rates per
// target, so the server's load does not depend on how fast it answers.
import http from 'node:http';

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
let run;

function get(url, stats) {
  stats.sent++;
  const req = http.get(url, { agent }, (res) => {
    res.resume();
    res.on('end', () => {
      stats.statuses[res.statusCode] = (stats.statuses[res.statusCode] ?? 0) + 1;
    });
  });
  req.on('error', () => {
    stats.statuses[0] = (stats.statuses[0] ?? 0) + 1;
  });
}

process.on('message', (msg) => {
  if (msg.type === 'start') {
    const targets = msg.targets.map((t) => ({ ...t, due: 0, stats: { sent: 0, statuses: {} } }));
    const startedAt = performance.now();
    const tick = () => {
      const elapsed = (performance.now() - startedAt) / 1000;
      for (const t of targets) {
        while (t.due < elapsed * t.rps) {
          t.due++;
          get(t.url, t.stats);
        }
      }
    };
    run = { targets, timer: setInterval(tick, 5) };
    process.send({ type: 'started' });
  } else if (msg.type === 'stop') {
    clearInterval(run.timer);
    process.send({ type: 'stopped', stats: Object.fromEntries(run.targets.map((t) => [t.name, t.stats])) });
  } else if (msg.type === 'exit') {
    agent.destroy();
    process.exit(0);
  }
});
process.send({ type: 'ready' });
