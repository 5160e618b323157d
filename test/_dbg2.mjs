import { Worker } from 'node:worker_threads';
const w = new Worker('./dist/watchdog/worker.js', { workerData: { buffer: new SharedArrayBuffer(32), captureAfterMs: 50, resampleMs: 50, maxSamplesPerStall: 4, maxStackFrames: 10 } });
w.on('message', m => console.log('msg', m)); w.on('error', e => console.log('error', e)); w.on('exit', c => console.log('exit', c));
setTimeout(() => w.terminate(), 1000);
