import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { WATCHDOG_MARK, type CaptureSample, type WatchdogConfig, type WorkerMessage } from '../contract/messages';
import type { SharedState } from '../contract/shared-state';
import type { ThreadTimeMeasurement } from '../contract/thread-time';

export interface WatchdogEvents {
  /** One stall window's samples, with the main thread's clock over it (null when not read). */
  onSamples(window: number, samples: CaptureSample[], threadTime: ThreadTimeMeasurement | null): void;
  onError(error: Error): void;
  /** The worker is connected and watching (after a start or a restart). */
  onReady?(): void;
  /** Any other message (the metrics endpoint's), with a way to answer the worker that sent it. */
  onMessage?(message: { type: string }, reply: (message: unknown) => void): void;
}

/** Internal settings beside what the worker itself reads. */
export interface WatchdogSettings extends Omit<WatchdogConfig, 'buffer'> {
  /** The worker script; replaced only by tests that simulate a worker failing to start. */
  workerFile?: string;
}

const MAX_RESTART_DELAY_MS = 60_000;
/** How long process exit may wait for the worker to close its inspector session. */
const EXIT_DISCONNECT_MS = 200;

/**
 * Main-thread side of the watchdog: starts the worker, receives its
 * captures, and restarts it with backoff if it dies. The worker is unref'd:
 * it never keeps the process alive.
 */
export class Watchdog {
  private worker: Worker | undefined;
  private closed = false;
  private restarts = 0;
  private exitHooked = false;
  /** The worker has connected and is watching. */
  ready = false;
  private restartTimer: NodeJS.Timeout | undefined;
  /**
   * An app that exits (process.exit, or the loop running dry) without close():
   * an inspector session still connected then makes Node print "Waiting for
   * the debugger to disconnect...". Exit handlers must be synchronous, so ask
   * the worker to disconnect and wait for it on shared memory.
   */
  private readonly onProcessExit = (): void => {
    const worker = this.worker;
    if (worker === undefined) return;
    this.shared.requestClose();
    worker.postMessage('close');
    this.shared.awaitDisconnect(EXIT_DISCONNECT_MS);
  };

  constructor(
    private readonly shared: SharedState,
    private readonly settings: WatchdogSettings,
    private readonly events: WatchdogEvents,
  ) {}

  start(): void {
    if (this.closed || this.worker) return;
    if (!this.exitHooked) {
      process.once('exit', this.onProcessExit);
      this.exitHooked = true;
    }
    const { workerFile = join(__dirname, '..', 'watchdog', 'worker.js'), ...config } = this.settings;
    let worker: Worker;
    try {
      worker = new Worker(workerFile, {
        workerData: { ...config, buffer: this.shared.buffer, [WATCHDOG_MARK]: true } satisfies WatchdogConfig,
        // The watchdog needs little; keep its heap small.
        resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 },
        stdout: false,
        stderr: false,
      });
    } catch (err) {
      this.fail(err);
      this.scheduleRestart();
      return;
    }
    this.worker = worker;
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'samples') this.events.onSamples(message.window, message.samples, message.threadTime ?? null);
      else if (message.type === 'ready') {
        this.restarts = 0;
        this.ready = true;
        this.events.onReady?.();
      }
      else if (message.type === 'error') this.events.onError(new Error(`loopguard watchdog: ${message.message}`));
      else this.events.onMessage?.(message, (reply) => worker.postMessage(reply));
    });
    let errored = false;
    worker.on('error', (err) => {
      errored = true;
      this.fail(err);
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) {
        this.worker = undefined;
        this.ready = false;
      }
      if (this.closed) return;
      // Stalls are still measured meanwhile, only without stacks.
      if (!errored) this.fail(new Error(`loopguard watchdog: worker exited unexpectedly (code ${code}); restarting with backoff`));
      this.scheduleRestart();
    });
    // After the listeners: on Node 20 a 'message' listener added to an unref'd worker refs it again,
    // and the process would never exit without close().
    worker.unref();
  }

  close(): void {
    this.closed = true;
    process.off('exit', this.onProcessExit);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const worker = this.worker;
    this.worker = undefined;
    if (worker) {
      // Let the worker disconnect its inspector session first: a session
      // still connected at exit makes Node wait for the debugger.
      this.shared.requestClose();
      worker.postMessage('close');
      // Wait (bounded) for the session to close: an app that calls process.exit()
      // right after close() would otherwise make Node wait for the debugger.
      this.shared.awaitDisconnect(EXIT_DISCONNECT_MS);
      // Held until the thread is gone: a process that exits while the thread is still
      // being torn down is where Node 20 was seen to abort (SIGABRT) at exit.
      worker.ref();
      void worker.terminate().catch(() => undefined);
    }
  }

  get running(): boolean {
    return this.worker !== undefined;
  }

  /** Sends the worker a message (a thread to watch or forget); dropped while no worker runs. */
  post(message: { type: string; [key: string]: unknown }): void {
    this.worker?.postMessage(message);
  }

  private fail(err: unknown): void {
    this.events.onError(err instanceof Error ? err : new Error(String(err)));
  }

  private scheduleRestart(): void {
    const delay = Math.min(MAX_RESTART_DELAY_MS, 500 * 2 ** this.restarts++);
    this.restartTimer = setTimeout(() => this.start(), delay);
    this.restartTimer.unref();
  }
}
