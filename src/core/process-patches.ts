import { kProcessPatches } from '../contract/symbols';
/**
 * Patches loopguard makes to the process itself (a prototype method of
 * node:http, the CommonJS loader) live while any guard is open, of any copy
 * of loopguard in the process, and the last guard's close() undoes them: a
 * process that closed its guards runs exactly the Node it started with.
 * The count and the undo list are shared through a registry symbol, as two
 * copies of loopguard share one patch.
 */
interface PatchRegistry {
  open: number;
  readonly undo: Map<string, () => void>;
}

const registry = ((globalThis as Record<symbol, unknown>)[kProcessPatches] ??= {
  open: 0,
  undo: new Map<string, () => void>(),
}) as PatchRegistry;

export function guardOpened(): void {
  registry.open++;
}

/** The last open guard closed: every patch is undone (each only if it is still the one in place). */
export function guardClosed(): void {
  registry.open = Math.max(0, registry.open - 1);
  if (registry.open > 0) return;
  for (const [key, undo] of [...registry.undo]) {
    registry.undo.delete(key);
    try {
      undo();
    } catch {
      // A patch that cannot be undone stays; it passes through once no guard is open.
    }
  }
}

export function isPatched(key: string): boolean {
  return registry.undo.has(key);
}

/** Installs a patch once (by key) until the last guard closes; `install` returns its undo. */
export function patchProcess(key: string, install: () => () => void): void {
  if (registry.undo.has(key)) return;
  registry.undo.set(key, install());
}
