/**
 * A fixed-rate HTTP/1.1 load: `rate` GET requests a second spread over
 * `connections` keep-alive sockets, at most one in flight per socket (as a
 * browser or a proxy does). Raw sockets and a pre-built request, so the
 * client's own cost per request is a write and a read callback, and one
 * client process can drive two servers at once.
 *
 * A saturated run (wrk) amplifies a small per-request cost through the
 * loopback wake-ups of an idle client; a fixed rate lets CPU per request be
 * read at a known, equal load on both sides. Answers are counted by their
 * status lines, which works for the small bodies the bench servers send.
 */
import net from 'node:net';
import { once } from 'node:events';

const STATUS = Buffer.from('HTTP/1.1 ');

export async function fixedRate({ port, host = '127.0.0.1', rate, seconds, connections = 16, path = '/' }) {
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`);
  const idle = [];
  const sockets = [];
  let sent = 0;
  let answered = 0;
  let non2xx = 0;
  let errors = 0;
  let backlog = 0;
  let maxBacklog = 0;

  const send = (socket) => {
    sent++;
    socket.write(request);
  };
  for (let i = 0; i < connections; i++) {
    const socket = net.connect(port, host);
    socket.setNoDelay(true);
    socket.on('error', () => errors++);
    socket.on('data', (chunk) => {
      let at = chunk.indexOf(STATUS);
      while (at !== -1) {
        answered++;
        if (chunk[at + STATUS.length] !== 0x32 /* 2 */) non2xx++;
        at = chunk.indexOf(STATUS, at + STATUS.length);
      }
      // One in flight per socket: the answer frees it for the next due request.
      if (backlog > 0) {
        backlog--;
        send(socket);
      } else idle.push(socket);
    });
    sockets.push(socket);
  }
  await Promise.all(sockets.map((s) => once(s, 'connect')));
  idle.push(...sockets);

  const started = performance.now();
  const endAt = started + seconds * 1000;
  let due = 0;
  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      const target = Math.floor(((Math.min(now, endAt) - started) / 1000) * rate);
      while (due < target) {
        due++;
        const socket = idle.pop();
        if (socket === undefined) backlog++;
        else send(socket);
      }
      if (backlog > maxBacklog) maxBacklog = backlog;
      if (now >= endAt) return resolve();
      setTimeout(tick, 1);
    };
    tick();
  });
  // Let the last answers in (bounded), then close.
  const deadline = performance.now() + 2000;
  while (answered < sent && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  for (const s of sockets) s.destroy();
  const wallSeconds = (performance.now() - started) / 1000;
  return { sent, answered, non2xx, errors, maxBacklog, unsent: backlog, wallSeconds };
}
