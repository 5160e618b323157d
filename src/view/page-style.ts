/** The live page's stylesheet: inline (no CDN, works offline), dark, dense enough for an incident screen. */
export const PAGE_STYLE = String.raw`
:root {
  --bg: #0f1318; --panel: #161b22; --line: #2a313c; --text: #e6edf3; --muted: #8b949e;
  --ok: #3fb950; --warn: #d29922; --bad: #f85149; --accent: #58a6ff; --elu: #a371f7;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace;
}
* { box-sizing: border-box; }
html, body { margin: 0; background: var(--bg); color: var(--text); font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif; }
header { display: flex; align-items: center; gap: 16px; padding: 14px 24px; border-bottom: 1px solid var(--line); background: var(--panel); }
.brand { font-weight: 700; font-size: 18px; letter-spacing: .2px; }
.brand span { color: var(--muted); font-weight: 400; margin-left: 6px; font-size: 14px; }
.pill { border-radius: 999px; padding: 2px 12px; font-size: 12px; font-weight: 600; border: 1px solid currentColor; }
.pill.ok { color: var(--ok); } .pill.warn { color: var(--warn); } .pill.bad { color: var(--bad); } .pill.off { color: var(--muted); }
.meta { margin-left: auto; color: var(--muted); font-size: 12px; }
main { padding: 18px 24px 32px; max-width: 1500px; margin: 0 auto; }
.tiles { display: grid; grid-template-columns: repeat(6, minmax(120px, 1fr)); gap: 12px; margin-bottom: 16px; }
.tile { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.tile .label { color: var(--muted); font-size: 12px; }
.tile .value { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; margin-top: 2px; }
.tile .value.bad { color: var(--bad); } .tile .value.warn { color: var(--warn); }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px 14px; margin-bottom: 16px; min-width: 0; }
.card h2 { margin: 0 0 8px; font-size: 14px; font-weight: 600; }
.card h2 small { color: var(--muted); font-weight: 400; margin-left: 6px; }
.charts { display: grid; grid-template-columns: 2fr 1fr; gap: 16px; }
.charts .card { margin-bottom: 16px; }
canvas { display: block; width: 100%; height: 190px; }
.legend { display: flex; gap: 14px; color: var(--muted); font-size: 12px; margin-top: 6px; }
.sw-delay { background: #58a6ff; } .sw-request { background: #f85149; } .sw-background { background: #d29922; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
.grid2 { display: grid; grid-template-columns: 3fr 2fr; gap: 16px; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th { text-align: left; color: var(--muted); font-weight: 500; font-size: 12px; border-bottom: 1px solid var(--line); padding: 4px 8px; white-space: nowrap; }
td { border-bottom: 1px solid #1f252e; padding: 6px 8px; vertical-align: top; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr:last-child td { border-bottom: 0; }
.route { font-family: var(--mono); font-size: 13px; }
td.routecell { white-space: nowrap; max-width: 360px; overflow: hidden; text-overflow: ellipsis; }
.method { display: inline-block; min-width: 44px; font-family: var(--mono); font-size: 11px; color: var(--accent); margin-right: 6px; }
.frame { font-family: var(--mono); font-size: 12px; color: #d2a8ff; overflow-wrap: anywhere; }
.share { position: relative; min-width: 92px; }
.share .bar { position: absolute; right: 0; bottom: 2px; height: 3px; background: var(--bad); border-radius: 2px; opacity: .8; }
.share span { position: relative; }
.cause { font-size: 11px; color: var(--muted); }
.state { font-size: 11px; color: var(--muted); font-style: italic; }
.thread { display: inline-block; margin-left: 6px; padding: 0 5px; border: 1px solid var(--muted); border-radius: 3px; font-family: var(--mono); font-size: 10px; color: var(--muted); }
.frame .after { font-family: var(--sans, inherit); color: #f0883e; font-size: 11px; }
.advice { margin-top: 4px; font-size: 12px; color: var(--muted); max-width: 70ch; }
.advice-call { font-family: var(--mono); color: #7ee787; margin-right: 2px; }
.advice-docs { color: #58a6ff; white-space: nowrap; }
details.stall > .advice { margin: 6px 0 0 12px; }
.hot { color: var(--bad); } .warm { color: var(--warn); }
.empty { color: var(--muted); font-style: italic; margin: 6px 0 0; }
.stall { border-top: 1px solid #1f252e; padding: 6px 0; }
.stall:first-child { border-top: 0; }
.stall summary { cursor: pointer; list-style: none; display: flex; gap: 12px; align-items: baseline; flex-wrap: wrap; }
.stall summary::-webkit-details-marker { display: none; }
.stall summary::before { content: '▸'; color: var(--muted); }
.stall[open] summary::before { content: '▾'; }
.stall .when { color: var(--muted); font-family: var(--mono); font-size: 12px; }
.stall .dur { font-weight: 600; min-width: 64px; }
.stall ol { margin: 6px 0 2px 26px; padding: 0; font-family: var(--mono); font-size: 12px; }
.stall li { padding: 1px 0; color: var(--muted); word-break: break-all; }
.stall li.app { color: var(--text); }
.stall li .fn { color: #d2a8ff; }
footer { color: var(--muted); font-size: 12px; margin-top: 8px; }
@media (max-width: 1000px) { .tiles { grid-template-columns: repeat(3, 1fr); } .charts, .grid2 { grid-template-columns: 1fr; } }
`;
