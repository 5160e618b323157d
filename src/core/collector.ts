import type { WatchdogConfig, WorkerMessage } from '../contract/messages';

/** The parts of the watchdog worker a collector needs, declared when it is attached (the one start-time hand-off). */
export type WorkerParts = Partial<Pick<WatchdogConfig, 'metricsServer' | 'poolProbe' | 'busy'>>;

/**
 * A collector: any part plugged into the kernel from outside (an
 * accumulator such as stall stats, or a consumer such as an exporter). The
 * kernel closes it with itself and starts the worker with the parts it
 * declares. The one meaning of "collector" in this code base.
 */
export interface Collector {
  /** What this collector needs the watchdog worker to run; read once, at `start()`. */
  readonly worker?: WorkerParts;
  /** Messages from the worker that belong to this collector (the metrics endpoint's); `reply` answers that worker. */
  onWorkerMessage?(message: WorkerMessage, reply: (message: unknown) => void): void;
  close(): void;
}
