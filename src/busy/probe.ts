import { executionAsyncId } from 'node:async_hooks';
import { kBusyProbe, kBusySinks } from '../contract/symbols';

/** Receives one guard's samples, on the main thread, inside the interrupt. Never throws. */
export interface BusySink {
  /** The loop was running code (its request context, if any, is in effect right now). */
  busy(): void;
  idle(): void;
}

/** Shared by every copy of loopguard in the process: the probe on the global is the first copy's. */
const registry = ((globalThis as Record<symbol, unknown>)[kBusySinks] ??= {
  sinks: new Map<number, BusySink>(),
  next: 1,
}) as { sinks: Map<number, BusySink>; next: number };

/** Registers a guard's sink; returns the id its watchdog passes to the probe. */
export function addBusySink(sink: BusySink): number {
  const id = registry.next++;
  registry.sinks.set(id, sink);
  return id;
}

export function removeBusySink(id: number): void {
  registry.sinks.delete(id);
}

/**
 * Run by the watchdog worker through `Runtime.evaluate`, which Node
 * dispatches to the main thread through a V8 interrupt: on top of whatever
 * JavaScript is running, with its AsyncLocalStorage store in effect. When
 * the loop is idle the inspector's own wake-up runs it outside any callback
 * (execution async id 0; checked on Node 20, 24 and 26). Counts in place, so
 * the worker needs no answer beyond idle (1) / busy (0), to back off while idle.
 */
function busyProbe(sinkId: number): number {
  try {
    const sink = registry.sinks.get(sinkId);
    if (sink === undefined) return -1;
    if (executionAsyncId() === 0) {
      sink.idle();
      return 1;
    }
    sink.busy();
    return 0;
  } catch {
    return -1;
  }
}

(globalThis as Record<symbol, unknown>)[kBusyProbe] ??= busyProbe;
