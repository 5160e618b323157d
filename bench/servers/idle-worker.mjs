// An idle worker thread for the bench: it waits for messages and does
// nothing else; with workerData.watch it watches itself (loopguard/worker),
// so the difference between the two is what watching one worker costs.
import { parentPort, workerData } from 'node:worker_threads';

if (workerData?.watch) {
  const { watchThisThread } = await import('loopguard/worker');
  const guard = watchThisThread({ name: 'bench-idle' });
  guard.once('watchdog:ready', () => parentPort.postMessage('ready'));
} else {
  parentPort.postMessage('ready');
}
parentPort.on('message', () => undefined);
