/**
 * Load shedding as a collector: the shedder reads pressure from the
 * heartbeat and blame from delivered stalls, writes the shed counters the
 * exporters read, and announces changes as the guard's `'shed'` event.
 * Adapters reach it as `guard.shedder` (src/create-guard.ts).
 */
import type { GuardContext, ShedCounter } from '../collectors/read-model';
import type { ShedChange } from './decision';
import type { ResolvedShedOptions } from './options';
import { Shedder, type ShedStatus } from './shedder';

declare module '../core/events' {
  interface LoopGuardEvents {
    /** Load shedding changed state or culprits. */
    shed: [change: ShedChange];
  }
}

declare module '../collectors/snapshot' {
  interface SnapshotSections {
    /** Load shedding state; null when the `shed` option is off. */
    shedding: ShedStatus | null;
  }
}

/** Attaches shedding when the `shed` option is on; either way `snapshot().shedding` says how it stands. */
export function attachShedding(context: GuardContext, options: ResolvedShedOptions | false, shedTotals: Map<string, ShedCounter>): Shedder | undefined {
  if (options === false) {
    context.snapshotSection('shedding', () => null);
    return undefined;
  }
  const { model } = context;
  const shedder = new Shedder(options, {
    loop: model.loop,
    routes: model.routes,
    shedTotals,
    reportError: context.reportError,
    shedChanged: (change) => context.emit('shed', change),
    busy: model.busy,
  });
  context.observe({
    // Startup (module loading, warm-up) is slow by nature: never shed for it.
    beat: (lateMs) => {
      if (!model.inStartupGrace()) shedder.onBeat(lateMs);
    },
    // Shedding ranks culprits by the same label the metrics use, never a raw path.
    stall: (report, routeLabel) => {
      if (report.cause === 'request' && report.route !== null) shedder.onStall(routeLabel, report.method ?? '', report.durationMs);
    },
  });
  context.snapshotSection('shedding', () => shedder.status());
  return shedder;
}
