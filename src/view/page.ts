import { createHash } from 'node:crypto';
import { PAGE_SCRIPT } from './page-script.generated';
import { PAGE_STYLE } from './page-style';

/**
 * The live page: one static document with its style and script inline. It
 * holds no data (the script fetches it), so it is built once, and the
 * Content-Security-Policy can allow exactly this script and this style by
 * hash: nothing injected through a route name or a stack frame could run.
 */
const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>loopguard · live</title>
<style>${PAGE_STYLE}</style>
</head>
<body data-state="loading">
<header>
  <div class="brand">loopguard<span>who is blocking the event loop</span></div>
  <div id="status" class="pill off">connecting…</div>
  <div id="shed" class="pill off" hidden></div>
  <div class="meta"><span id="t-capture"></span> · <span id="updated"></span></div>
</header>
<main>
<section class="tiles">
  <div class="tile"><div class="label">Loop delay p99 <span id="t-window">(10 s)</span></div><div class="value" id="t-p99">–</div></div>
  <div class="tile" id="t-pool-tile" title="How long a trivial job waits for one of libuv's threads (fs, dns.lookup, async crypto, zlib)"><div class="label">Thread pool delay p99 <span id="t-pool-size"></span></div><div class="value" id="t-pool">–</div></div>
  <div class="tile"><div class="label">Longest recent stall</div><div class="value" id="t-max">–</div></div>
  <div class="tile"><div class="label">Event-loop utilization</div><div class="value" id="t-elu">–</div></div>
  <div class="tile"><div class="label">Stalls since start</div><div class="value" id="t-stalls">–</div></div>
  <div class="tile"><div class="label">Requests in flight</div><div class="value" id="t-inflight">–</div></div>
  <div class="tile"><div class="label">Stall threshold</div><div class="value" id="t-threshold">–</div></div>
</section>
<section class="charts">
  <div class="card">
    <h2>Loop delay<small>p99 per second, and each stall</small></h2>
    <canvas id="delay-chart" role="img" aria-label="Loop delay over time"></canvas>
    <div class="legend"><span><i class="sw-delay"></i>p99 loop delay per second</span><span><i class="sw-request"></i>stall blamed on a request</span><span><i class="sw-background"></i>background / GC stall</span></div>
  </div>
  <div class="card">
    <h2>Event-loop utilization<small>per second</small></h2>
    <canvas id="elu-chart" role="img" aria-label="Event-loop utilization over time"></canvas>
  </div>
</section>
<section class="card">
  <h2>Loop time by route<small>share of the event loop's busy time, sampled · <span id="looptime-samples"></span></small></h2>
  <table id="looptime"><thead><tr><th>Route</th><th class="num">Share</th><th class="num">95 % interval</th><th class="num">Busy since start</th></tr></thead><tbody></tbody></table>
  <p class="empty" id="looptime-empty">No samples yet.</p>
</section>
<section class="grid2">
  <div class="card">
    <h2>Culprits<small>routes whose own code held the loop</small></h2>
    <table id="culprits"><thead><tr><th>Route</th><th class="num">Stalls</th><th class="num">Blocked</th><th>Top frame</th><th class="num">Last</th></tr></thead><tbody></tbody></table>
    <p class="empty" id="culprits-empty">No stall so far.</p>
  </div>
  <div class="card">
    <h2>Victims<small>loop delay requests waited through</small></h2>
    <table id="victims"><thead><tr><th>Route</th><th class="num">Requests</th><th class="num">p99 delay</th><th class="num">Mean</th></tr></thead><tbody></tbody></table>
    <p class="empty" id="victims-empty">No finished request yet.</p>
  </div>
</section>
<section class="card">
  <h2>Recent stalls<small>newest first; open one for its stack</small></h2>
  <div id="stalls"></div>
  <p class="empty" id="stalls-empty">No stall so far.</p>
</section>
<footer>Served by loopguard. Refreshes every second from snapshot.json beside this page. Route templates only, never raw URLs; file paths relative to the app root.</footer>
</main>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

export const PAGE_HTML = Buffer.from(HTML, 'utf8');

export const PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(PAGE_SCRIPT)}`,
  // The script sizes elements through the CSSOM, which style-src does not restrict.
  `style-src ${sha256(PAGE_STYLE)}`,
  "connect-src 'self'",
  "img-src data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const PAGE_ETAG = `"${createHash('sha256').update(PAGE_HTML).digest('base64url').slice(0, 22)}"`;
