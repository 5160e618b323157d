import { createLoopGuard } from 'loopguard';
const g = createLoopGuard({ startupGraceMs: 0, prometheus: false, onError: (e) => console.log('ERR', e), onStall: (r) => console.log('STALL', JSON.stringify(r).slice(0, 400)) });
function spin(ms) { const end = Date.now() + ms; while (Date.now() < end) {} }
setTimeout(() => { console.log('running', g.watchdogRunning, g.shared.captureAllowed); spin(400); }, 500);
setTimeout(() => g.close(), 1500);
