import type { LoopGuard } from '../core/guard';
import { registerOtel } from './otel';
import { registerPrometheus } from './prometheus';

/** Something that reads the guard's state on its own schedule and can be stopped. */
export interface Exporter {
  close(): void;
}

/** Starts every exporter the options ask for. Throws only for construction-time problems. */
export function startExporters(guard: LoopGuard): Exporter[] {
  const exporters: Exporter[] = [];
  const { prometheus, otel } = guard.options;
  try {
    if (prometheus !== false) {
      const exporter = registerPrometheus(guard, prometheus);
      if (exporter) exporters.push(exporter);
    }
    if (otel !== false) {
      const exporter = registerOtel(guard, otel);
      if (exporter) exporters.push(exporter);
    }
  } catch (err) {
    // A guard that fails to construct must not leave series or callbacks behind.
    for (const exporter of exporters) exporter.close();
    throw err;
  }
  return exporters;
}
