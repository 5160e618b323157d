// The demo's terminal view: pure functions from a guard snapshot to lines of
// text. A TTY gets a screen redrawn every second; a pipe or a log file gets
// plain periodic lines.
import { formatFrame } from 'loopguard';

const ANSI = { bold: '\x1b[1m', dim: '\x1b[2m', red: '\x1b[31m', yellow: '\x1b[33m', green: '\x1b[32m', cyan: '\x1b[36m', reset: '\x1b[0m' };

export function ms(value) {
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  if (value >= 10) return `${value.toFixed(0)} ms`;
  return `${value.toFixed(1)} ms`;
}

function fit(text, width) {
  const s = String(text);
  return s.length <= width ? s.padEnd(width) : `${s.slice(0, width - 1)}…`;
}

/** Words into lines of at most `width` columns; the last of `maxLines` ends in … if cut. */
function wrap(text, width, maxLines) {
  const lines = [''];
  for (const word of text.split(' ')) {
    const last = lines[lines.length - 1];
    if (last === '' || last.length + 1 + word.length <= width) lines[lines.length - 1] = last === '' ? word : `${last} ${word}`;
    else lines.push(word);
  }
  if (lines.length <= maxLines) return lines;
  const kept = lines.slice(0, maxLines);
  kept[maxLines - 1] = fit(`${kept[maxLines - 1]} ${lines[maxLines]}`, width).trimEnd();
  return kept;
}

function paint(color) {
  return (style, text) => (color && style ? `${ANSI[style]}${text}${ANSI.reset}` : text);
}

/** What to do, in one line: the blocking call (or the kind) and the first sentence of the fix. */
export function adviceText(advice) {
  if (!advice) return null;
  const [first] = advice.fix.split(/(?<=\.)\s+(?=[A-Z])/);
  return `${advice.call ?? advice.kind}: ${first}`;
}

/**
 * One culprit as people read it: `POST /api/login  5 stalls  1.52 s  hashPassword (examples/demo/handlers.mjs:25)`,
 * and what to do about it. A worker thread's culprit (a pool task) says which thread it held; the main thread,
 * the common case, is not named.
 */
export function culpritRows(snapshot, root) {
  return snapshot.culprits.map((c) => ({
    name: c.method ? `${c.method} ${c.route}` : c.route,
    thread: c.thread && c.thread !== 'main' ? c.thread : null,
    stalls: c.stalls,
    blockedSeconds: c.blockedSeconds,
    frame: (c.topFrame ? formatFrame(c.topFrame, root) : '(no stack captured)') + (c.afterResponseStalls > 0 ? ' · after response' : ''),
    advice: adviceText(c.advice),
  }));
}

export function victimRows(snapshot) {
  return snapshot.routes
    .filter((r) => r.requests > 0)
    .map((r) => ({ name: `${r.method} ${r.route}`, requests: r.requests, p99Ms: r.delayP99Ms, meanMs: r.delayMeanMs }));
}

/** Where the loop's time goes (sampled busy time): `GET /api/report  41 % ±5` of the busy time, largest first. */
export function loopTimeRows(snapshot) {
  return (snapshot.busy?.routes ?? []).map((r) => ({
    name: r.method ? `${r.method} ${r.route}` : r.route,
    percent: r.share * 100,
    plusMinus: ((r.shareHigh - r.shareLow) / 2) * 100,
  }));
}

function loopTimeTable(snapshot, width, c) {
  const rows = loopTimeRows(snapshot).filter((r) => r.percent >= 1);
  const busy = snapshot.busy;
  const lines = [c('bold', 'LOOP TIME BY ROUTE') + c('dim', ` share of the loop's busy time, sampled (${busy ? `${busy.busySamples} samples` : 'off'})`)];
  if (rows.length === 0) lines.push(c('dim', busy ? 'no samples yet' : 'busy sampling is off (busySampleHz: 0)'));
  const barWidth = Math.max(10, Math.min(40, width - 34 - 16));
  for (const r of rows.slice(0, 6)) {
    const bar = '█'.repeat(Math.round((r.percent / 100) * barWidth));
    lines.push(`${fit(r.name, 34)}${`${r.percent.toFixed(0)} %`.padStart(6)}${c('dim', ` ±${r.plusMinus.toFixed(0)}`.padEnd(5))} ${c('cyan', bar)}`);
  }
  return lines;
}

function culpritTable(snapshot, root, width, c) {
  const frameWidth = Math.max(20, width - 34 - 8 - 10 - 2);
  const lines = [c('bold', 'CULPRITS') + c('dim', ' routes and pool tasks whose own code held a loop'), c('dim', `${fit('route', 34)}${'stalls'.padStart(8)}${'blocked'.padStart(10)}  ${fit('top frame', frameWidth)}`)];
  const rows = culpritRows(snapshot, root);
  if (rows.length === 0) lines.push(c('dim', 'no stall yet'));
  for (const r of rows.slice(0, 8)) {
    const frame = r.thread ? `${r.frame} · thread ${r.thread}` : r.frame;
    lines.push(`${fit(r.name, 34)}${String(r.stalls).padStart(8)}${c('red', `${r.blockedSeconds.toFixed(2)} s`.padStart(10))}  ${c('cyan', fit(frame, frameWidth))}`);
    if (r.advice) for (const [i, line] of wrap(r.advice, width - 6, 2).entries()) lines.push(c('green', `${i === 0 ? '  fix ' : '      '}${line}`));
  }
  return lines;
}

function victimTable(snapshot, width, c) {
  const nameWidth = Math.max(16, width - 9 - 11 - 10);
  const lines = [c('bold', 'VICTIMS') + c('dim', ' loop delay their requests waited through'), c('dim', `${fit('route', nameWidth)}${'requests'.padStart(9)}${'p99 delay'.padStart(11)}${'mean'.padStart(10)}`)];
  const rows = victimRows(snapshot);
  if (rows.length === 0) lines.push(c('dim', 'no finished request yet'));
  for (const r of rows.slice(0, 8)) {
    const style = r.p99Ms >= snapshot.thresholdMs ? 'yellow' : '';
    lines.push(`${fit(r.name, nameWidth)}${String(r.requests).padStart(9)}${c(style, ms(r.p99Ms).padStart(11))}${ms(r.meanMs).padStart(10)}`);
  }
  return lines;
}

function sideBySide(left, right, leftWidth) {
  const out = [];
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const l = left[i] ?? '';
    // Pad by visible length: the colour codes take no columns.
    const visible = l.replace(/\x1b\[[0-9;]*m/g, '').length;
    out.push(l + ' '.repeat(Math.max(2, leftWidth - visible + 2)) + (right[i] ?? ''));
  }
  return out;
}

/** Where the blocking goes once it is moved off the loop: libuv's pool, beside the loop's delay. */
export function poolVitals(snapshot, c = paint(false)) {
  const pool = snapshot.threadPool;
  if (!pool?.delay) return [];
  // A probe queued right now shows its wait as it grows, before it completes.
  const p99 = Math.max(pool.delay.p99Ms, pool.delay.queuedForMs);
  return [`pool delay p99 ${c(p99 >= 100 ? 'red' : p99 >= 10 ? 'yellow' : 'green', ms(p99))} (${pool.size} threads)`];
}

/** The loop's vital signs on one line, and the thread pool's beside them. */
export function vitals(snapshot, c = paint(false)) {
  const p99 = snapshot.eventLoop.delay.p99Ms;
  const elu = snapshot.eventLoop.utilization;
  return [
    `loop delay p99 ${c(p99 >= snapshot.thresholdMs ? 'red' : 'green', ms(p99))}`,
    ...poolVitals(snapshot, c),
    `ELU ${c(elu > 0.8 ? 'red' : '', `${Math.round(elu * 100)} %`)}`,
    `stalls ${snapshot.stallsTotal}`,
    `in flight ${snapshot.requestsInFlight}`,
  ].join(c('dim', '  ·  '));
}

/**
 * What the loop's thread was doing while it stood still, as shares of the
 * stalled time: `stalled: cpu 62 % · parked 20 % · throttled 13 % · gc 5 %`
 * (docs/stall-state.md). Empty before the first stall.
 */
export function stallStateLine(snapshot, c = paint(false)) {
  const byState = snapshot.stallThreadSeconds ?? {};
  const total = Object.values(byState).reduce((a, b) => a + b, 0);
  if (!(total > 0)) return [];
  const parts = Object.entries(byState)
    .filter(([, seconds]) => seconds / total >= 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([state, seconds]) => `${c(state === 'host' || state === 'throttled' ? 'yellow' : '', state)} ${Math.round((seconds / total) * 100)} %`);
  return [`stalled: ${parts.join(c('dim', ' · '))}`];
}

/** The full screen (TTY) or the final summary: header, vitals, culprits and victims. */
export function renderScreen(snapshot, { root, width = 120, color = false, header = [] }) {
  const c = paint(color);
  const lines = [...header.map((h) => (h.startsWith('loopguard') ? c('bold', h) : h)), '', vitals(snapshot, c), ...stallStateLine(snapshot, c), '', ...loopTimeTable(snapshot, width, c), ''];
  if (width >= 150) {
    const leftWidth = Math.min(110, width - 62);
    lines.push(...sideBySide(culpritTable(snapshot, root, leftWidth, c), victimTable(snapshot, width - leftWidth - 4, c), leftWidth));
  } else {
    lines.push(...culpritTable(snapshot, root, width, c), '', ...victimTable(snapshot, Math.min(width, 80), c));
  }
  return lines;
}

/** Plain mode: one line a second, plus the culprit lines whenever a new stall was counted. */
export function renderTick(snapshot, { root, elapsedSeconds, previousStalls }) {
  const lines = [`[${String(elapsedSeconds).padStart(4)} s] ${vitals(snapshot)}`];
  if (elapsedSeconds % 10 === 0) {
    const top = loopTimeRows(snapshot).slice(0, 4).map((r) => `${r.name} ${r.percent.toFixed(0)} %`);
    if (top.length > 0) lines.push(`         loop time by route: ${top.join(', ')}`);
  }
  if (snapshot.stallsTotal !== previousStalls) {
    for (const line of stallStateLine(snapshot)) lines.push(`         ${line}`);
    for (const r of culpritRows(snapshot, root).slice(0, 8)) {
      const where = r.thread ? ` on thread ${r.thread}` : '';
      lines.push(`         culprit ${r.name}${where}: ${r.stalls} stalls, ${r.blockedSeconds.toFixed(2)} s blocked, in ${r.frame}`);
      if (r.advice) lines.push(`             fix ${r.advice}`);
    }
  }
  return lines;
}

/** Alternate screen while live, so the summary lands in the normal scrollback; redraw in place (each line cleared to its end) without flicker. */
export const screen = {
  enter: '\x1b[?1049h\x1b[?25l',
  redraw: '\x1b[H',
  leave: '\x1b[?25h\x1b[?1049l',
};
