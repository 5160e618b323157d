// @ts-check
/**
 * The live page's own script, inline so the page works offline and behind
 * any proxy. It polls `snapshot.json` beside the page once a second and
 * builds every piece of text with textContent: route templates and stack
 * frames are data, never markup.
 *
 * A browser script, type-checked against the DOM (tsconfig.json beside it)
 * and inlined into the page at build time by scripts/build-page-script.mjs.
 */
(function () {
  'use strict';
  var SNAPSHOT = location.pathname.replace(/\/+$/, '') + '/snapshot.json';
  var POLL_MS = 1000;
  var WINDOW_MS = 5 * 60 * 1000;
  var MIN_WINDOW_MS = 60 * 1000;
  var MAX_STALLS_SHOWN = 25;
  var openStalls = new Set();
  var last = null;

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmtMs(v) {
    if (!isFinite(v)) return '–';
    if (v >= 1000) return (v / 1000).toFixed(2) + ' s';
    if (v >= 100) return v.toFixed(0) + ' ms';
    if (v >= 10) return v.toFixed(1) + ' ms';
    return v.toFixed(2) + ' ms';
  }
  function fmtSeconds(s) { return s >= 10 ? s.toFixed(1) + ' s' : s.toFixed(2) + ' s'; }
  function clock(t) { return new Date(t).toLocaleTimeString([], { hour12: false }); }
  function ago(t, now) {
    var s = Math.max(0, Math.round((now - t) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    return Math.round(s / 3600) + ' h ago';
  }
  function severity(ms, threshold) { return ms >= threshold ? 'hot' : ms >= threshold / 2 ? 'warm' : ''; }
  /** A worker thread is named; the main thread, the common case, is not. */
  function onWorker(thread) { return typeof thread === 'string' && thread !== 'main'; }
  function routeCell(method, route, thread) {
    var td = el('td', 'routecell');
    td.title = (method ? method + ' ' : '') + (route === null ? '' : route) + (onWorker(thread) ? ' on thread ' + thread : '');
    if (method) td.appendChild(el('span', 'method', method));
    td.appendChild(el('span', 'route', route === null ? '(no request)' : route));
    if (onWorker(thread)) td.appendChild(el('span', 'thread', 'thread ' + thread));
    return td;
  }
  function numCell(text, cls) { return el('td', 'num' + (cls ? ' ' + cls : ''), text); }
  function replaceRows(table, rows) {
    var body = table.tBodies[0];
    while (body.firstChild) body.removeChild(body.firstChild);
    rows.forEach(function (r) { body.appendChild(r); });
  }

  function renderTiles(s) {
    var d = s.delayWindow;
    setTile('t-p99', d.seconds > 0 ? fmtMs(d.p99Ms) : '–', severity(d.p99Ms, s.thresholdMs));
    $('t-window').textContent = '(' + Math.max(1, d.seconds) + ' s)';
    var longest = s.recentStalls.reduce(function (m, r) { return Math.max(m, r.durationMs); }, 0);
    setTile('t-max', longest > 0 ? fmtMs(longest) : 'none', severity(longest, s.thresholdMs));
    setTile('t-elu', (s.eventLoop.utilization * 100).toFixed(0) + ' %', s.eventLoop.utilization > 0.9 ? 'bad' : s.eventLoop.utilization > 0.7 ? 'warn' : '');
    setTile('t-stalls', String(s.stallsTotal), '');
    setTile('t-inflight', String(s.requestsInFlight), '');
    setTile('t-threshold', fmtMs(s.thresholdMs), '');
    // Beside the loop's delay: where blocking goes once it is moved off the loop. A probe
    // queued right now counts with the wait it has had so far.
    var pool = s.threadPool;
    $('t-pool-tile').hidden = !pool || !pool.delay;
    if (pool && pool.delay) {
      var poolMs = Math.max(pool.delay.p99Ms, pool.delay.queuedForMs);
      setTile('t-pool', pool.delay.samples > 0 || pool.delay.queuedForMs > 0 ? fmtMs(poolMs) : '–', severity(poolMs, 100));
      $('t-pool-size').textContent = '(' + pool.size + ' threads)';
    }
    $('t-capture').textContent = s.watchdogRunning ? 'stack capture on' : 'stack capture off';
  }
  function setTile(id, text, cls) {
    var v = $(id);
    v.textContent = text;
    v.className = 'value' + (cls === 'hot' ? ' bad' : cls === 'warm' ? ' warn' : cls ? ' ' + cls : '');
  }

  function renderStatus(s) {
    var pill = $('status');
    var recent = s.recentStalls.length > 0 && s.at - (s.recentStalls[0].startedAt + s.recentStalls[0].durationMs) < 10000;
    if (s.eventLoop.blockedMs >= s.thresholdMs) { pill.textContent = 'loop blocked'; pill.className = 'pill bad'; }
    else if (recent) { pill.textContent = 'stalled in the last 10 s'; pill.className = 'pill warn'; }
    else { pill.textContent = 'loop turning'; pill.className = 'pill ok'; }
    $('updated').textContent = 'updated ' + clock(s.at);
    var shed = $('shed'), st = s.shedding;
    shed.hidden = !st;
    if (st) {
      var active = st.state === 'culprits' || st.state === 'all';
      shed.textContent = 'load shedding: ' + (st.state === 'off' ? 'armed' : st.state) +
        (st.state === 'culprits' && st.culprits.length ? ' (' + st.culprits.map(function (c) { return c.method + ' ' + c.route; }).join(', ') + ')' : '') +
        (st.shedTotal ? ' · ' + st.shedTotal + ' shed' : '');
      shed.className = 'pill ' + (active ? 'bad' : st.state === 'pressure' ? 'warn' : 'ok');
    }
  }

  function renderLoopTime(s) {
    var b = s.busy, rows = b ? b.routes.filter(function (r) { return r.share >= 0.005; }).slice(0, 12) : [];
    replaceRows($('looptime'), rows.map(function (r) {
      var tr = el('tr');
      tr.dataset.route = r.route;
      tr.appendChild(routeCell(r.method, r.route));
      var share = el('td', 'num share');
      var bar = el('div', 'bar');
      bar.style.width = Math.round(r.share * 100) + '%';
      share.appendChild(bar);
      share.appendChild(el('span', '', (r.share * 100).toFixed(0) + ' %'));
      tr.appendChild(share);
      tr.appendChild(numCell((r.shareLow * 100).toFixed(0) + '–' + (r.shareHigh * 100).toFixed(0) + ' %'));
      tr.appendChild(numCell(fmtSeconds(r.busySeconds)));
      return tr;
    }));
    $('looptime-empty').textContent = b ? 'No samples yet.' : 'Busy sampling is off (busySampleHz: 0).';
    $('looptime-empty').hidden = rows.length > 0;
    $('looptime-samples').textContent = b ? b.busySamples + ' samples, last 1–2 min' : '';
  }

  function renderCulprits(s) {
    var total = s.culprits.reduce(function (a, c) { return a + c.blockedSeconds; }, 0) || 1;
    replaceRows($('culprits'), s.culprits.map(function (c) {
      var tr = el('tr');
      tr.dataset.route = c.route;
      tr.appendChild(routeCell(c.method, c.route, c.thread));
      if (onWorker(c.thread)) tr.dataset.thread = c.thread;
      var share = el('td', 'num share');
      var bar = el('div', 'bar');
      bar.style.width = Math.round((c.blockedSeconds / total) * 100) + '%';
      share.appendChild(bar);
      share.appendChild(el('span', '', fmtSeconds(c.blockedSeconds)));
      tr.appendChild(numCell(c.stalls));
      tr.appendChild(share);
      var where = el('td');
      var frameCell = el('div', 'frame', c.topFrame === null ? '(no stack captured)' : c.topFrame);
      // Work the route left behind after answering (a timer, the rest of an async handler).
      if (c.afterResponseStalls > 0) frameCell.appendChild(el('span', 'after', ' · ' + (c.afterResponseStalls === c.stalls ? '' : c.afterResponseStalls + ' ') + 'after response'));
      where.appendChild(frameCell);
      if (c.advice) where.appendChild(adviceBlock(c.advice));
      tr.appendChild(where);
      var lastCell = el('td', 'num cause', ago(c.lastStallAt, s.at));
      tr.appendChild(lastCell);
      return tr;
    }));
    $('culprits-empty').hidden = s.culprits.length > 0;
  }

  // What to do about a culprit: the blocking call (or the kind), the fix, and the README section.
  /** What the thread was doing: "computing", "parked in a call", "GC", "not run by the host (throttled 420 ms, interrupted GET /x)". */
  function stateText(r) {
    var t = r.threadTime || {};
    if (r.state === 'cpu') return 'computing' + (t.onCpuMs != null ? ' ' + fmtMs(t.onCpuMs) + ' on CPU' : '');
    if (r.state === 'parked') return 'parked in a blocking call';
    if (r.state === 'gc') return 'garbage collection';
    var why = t.throttledMs ? 'throttled ' + fmtMs(t.throttledMs) : 'waiting for a CPU';
    var cut = r.interrupted && r.interrupted.route ? ', interrupted ' + r.interrupted.method + ' ' + r.interrupted.route : '';
    return 'not run by the host (' + why + cut + ')';
  }

  function adviceBlock(a) {
    var box = el('div', 'advice');
    box.appendChild(el('span', 'advice-call', a.call || a.kind));
    box.appendChild(document.createTextNode(' ' + a.fix + ' '));
    if (/^https:\/\//.test(a.docs)) {
      var link = el('a', 'advice-docs', 'before / after');
      link.href = a.docs;
      link.target = '_blank';
      link.rel = 'noopener noreferrer';
      box.appendChild(link);
    }
    return box;
  }

  function renderVictims(s) {
    replaceRows($('victims'), s.routes.slice(0, 30).map(function (r) {
      var tr = el('tr');
      tr.dataset.route = r.route;
      tr.appendChild(routeCell(r.method, r.route));
      tr.appendChild(numCell(r.requests));
      tr.appendChild(numCell(fmtMs(r.delayP99Ms), severity(r.delayP99Ms, s.thresholdMs)));
      tr.appendChild(numCell(fmtMs(r.delayMeanMs), severity(r.delayMeanMs, s.thresholdMs)));
      return tr;
    }));
    $('victims-empty').hidden = s.routes.length > 0;
  }

  function renderStalls(s) {
    var box = $('stalls');
    while (box.firstChild) box.removeChild(box.firstChild);
    s.recentStalls.slice(0, MAX_STALLS_SHOWN).forEach(function (r) {
      var d = el('details', 'stall');
      d.dataset.id = String(r.id);
      if (openStalls.has(r.id)) d.open = true;
      d.addEventListener('toggle', function () { if (d.open) openStalls.add(r.id); else openStalls.delete(r.id); });
      var sum = el('summary');
      sum.appendChild(el('span', 'when', clock(r.startedAt)));
      sum.appendChild(el('span', 'dur ' + severity(r.durationMs, s.thresholdMs), fmtMs(r.durationMs)));
      var who = el('span');
      if (r.method) who.appendChild(el('span', 'method', r.method));
      who.appendChild(el('span', 'route', r.route === null ? '(' + r.cause + ')' : r.route));
      if (onWorker(r.thread)) {
        who.appendChild(el('span', 'thread', 'thread ' + r.thread));
        d.dataset.thread = r.thread;
      }
      sum.appendChild(who);
      sum.appendChild(el('span', 'cause', r.cause + (r.afterResponse ? ' after response' : '') + ' · ' + r.victims + (r.victims === 1 ? ' victim' : ' victims')));
      if (r.state) sum.appendChild(el('span', 'state', stateText(r)));
      var top = r.stack.filter(function (f) { return f.app; })[0] || r.stack[0];
      if (top) sum.appendChild(el('span', 'frame', top.fn + (top.file ? ' (' + top.file + ':' + top.line + ')' : '')));
      d.appendChild(sum);
      if (r.advice) d.appendChild(adviceBlock(r.advice));
      var ol = el('ol');
      if (r.stack.length === 0) ol.appendChild(el('li', '', 'no stack captured'));
      r.stack.forEach(function (f) {
        var li = el('li', f.app ? 'app' : '');
        li.appendChild(el('span', 'fn', f.fn));
        if (f.file) li.appendChild(document.createTextNode(' ' + f.file + ':' + f.line + ':' + f.column));
        ol.appendChild(li);
      });
      d.appendChild(ol);
      box.appendChild(d);
    });
    $('stalls-empty').hidden = s.recentStalls.length > 0;
  }

  /** Sizes a canvas to its box at the device's pixel ratio; returns its 2D context in CSS pixels. */
  function prepare(canvas) {
    var ratio = window.devicePixelRatio || 1;
    var w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(h * ratio);
    }
    var ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    return { ctx: ctx, w: w, h: h };
  }
  function niceMax(v) {
    var steps = [1, 2, 2.5, 5, 10];
    var p = Math.pow(10, Math.floor(Math.log10(Math.max(v, 1e-9))));
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= v) return steps[i] * p;
    return 10 * p;
  }
  var PAD = { l: 56, r: 12, t: 10, b: 22 };
  function axes(c, t0, t1, yMax, fmt) {
    var ctx = c.ctx;
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#8b949e';
    ctx.strokeStyle = '#2a313c';
    ctx.lineWidth = 1;
    for (var i = 0; i <= 4; i++) {
      var gy = PAD.t + (c.h - PAD.t - PAD.b) * (1 - i / 4);
      ctx.beginPath(); ctx.moveTo(PAD.l, Math.round(gy) + 0.5); ctx.lineTo(c.w - PAD.r, Math.round(gy) + 0.5); ctx.stroke();
      ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
      ctx.fillText(fmt((yMax * i) / 4), PAD.l - 6, gy);
    }
    ctx.textAlign = 'center'; ctx.textBaseline = 'alphabetic';
    var span = t1 - t0, step = span > 180000 ? 60000 : span > 90000 ? 30000 : 15000;
    for (var t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      var label = clock(t).slice(0, 8), lx = x(c, t, t0, t1), half = ctx.measureText(label).width / 2;
      if (lx - half >= PAD.l && lx + half <= c.w) ctx.fillText(label, lx, c.h - 6);
    }
  }
  function x(c, t, t0, t1) { return PAD.l + ((t - t0) / (t1 - t0)) * (c.w - PAD.l - PAD.r); }
  function y(c, v, yMax) { return PAD.t + (c.h - PAD.t - PAD.b) * (1 - Math.min(v, yMax) / yMax); }
  function series(c, pts, t0, t1, yMax, value, color, fill) {
    if (pts.length === 0) return;
    var ctx = c.ctx;
    ctx.beginPath();
    pts.forEach(function (p, i) {
      var px = x(c, p.t, t0, t1), py = y(c, value(p), yMax);
      if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
    });
    ctx.strokeStyle = color; ctx.lineWidth = 1.6; ctx.stroke();
    ctx.lineTo(x(c, pts[pts.length - 1].t, t0, t1), y(c, 0, yMax));
    ctx.lineTo(x(c, pts[0].t, t0, t1), y(c, 0, yMax));
    ctx.closePath(); ctx.fillStyle = fill; ctx.fill();
  }
  function timeRange(s) {
    var t1 = s.at, first = s.history.length ? s.history[0].t : t1;
    return [Math.min(Math.max(first, t1 - WINDOW_MS), t1 - MIN_WINDOW_MS), t1];
  }

  function drawDelay(s) {
    var canvas = $('delay-chart');
    var c = prepare(canvas), r = timeRange(s), t0 = r[0], t1 = r[1];
    var pts = s.history.filter(function (p) { return p.t >= t0; });
    var stalls = s.recentStalls.filter(function (st) { return st.startedAt >= t0; });
    var top = s.thresholdMs * 1.5;
    pts.forEach(function (p) { top = Math.max(top, p.p99Ms); });
    stalls.forEach(function (st) { top = Math.max(top, st.durationMs); });
    var yMax = niceMax(top * 1.1);
    axes(c, t0, t1, yMax, fmtMs);
    var ctx = c.ctx;
    stalls.forEach(function (st) {
      var px = x(c, st.startedAt, t0, t1), pw = Math.max(3, x(c, st.startedAt + st.durationMs, t0, t1) - px);
      ctx.fillStyle = st.cause === 'request' ? 'rgba(248,81,73,.75)' : 'rgba(210,153,34,.75)';
      ctx.fillRect(px, y(c, st.durationMs, yMax), pw, y(c, 0, yMax) - y(c, st.durationMs, yMax));
    });
    series(c, pts, t0, t1, yMax, function (p) { return p.p99Ms; }, '#58a6ff', 'rgba(88,166,255,.15)');
    var ty = Math.round(y(c, s.thresholdMs, yMax)) + 0.5;
    ctx.setLineDash([5, 4]); ctx.strokeStyle = '#d29922'; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(PAD.l, ty); ctx.lineTo(c.w - PAD.r, ty); ctx.stroke(); ctx.setLineDash([]);
    ctx.fillStyle = '#d29922'; ctx.textAlign = 'left'; ctx.textBaseline = 'bottom';
    ctx.fillText('threshold ' + fmtMs(s.thresholdMs), PAD.l + 4, ty - 2);
    canvas.dataset.points = String(pts.length);
    canvas.dataset.stalls = String(stalls.length);
  }

  function drawElu(s) {
    var canvas = $('elu-chart');
    var c = prepare(canvas), r = timeRange(s), t0 = r[0], t1 = r[1];
    var pts = s.history.filter(function (p) { return p.t >= t0; });
    axes(c, t0, t1, 1, function (v) { return Math.round(v * 100) + ' %'; });
    series(c, pts, t0, t1, 1, function (p) { return p.elu; }, '#a371f7', 'rgba(163,113,247,.18)');
    canvas.dataset.points = String(pts.length);
  }

  function render(s) {
    last = s;
    renderStatus(s);
    renderTiles(s);
    drawDelay(s);
    drawElu(s);
    renderLoopTime(s);
    renderCulprits(s);
    renderVictims(s);
    renderStalls(s);
    document.body.dataset.state = 'live';
  }

  function poll() {
    if (document.hidden) { setTimeout(poll, POLL_MS); return; }
    fetch(SNAPSHOT, { cache: 'no-store', credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      })
      .then(render, function (err) {
        var pill = $('status');
        pill.textContent = 'no data: ' + err.message;
        pill.className = 'pill off';
      })
      .then(function () { setTimeout(poll, POLL_MS); });
  }

  window.addEventListener('resize', function () { if (last) { drawDelay(last); drawElu(last); } });
  poll();
})();
