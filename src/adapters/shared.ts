/**
 * What adapters share: the per-request entry point (./entry.ts) and the one
 * way every adapter takes a guard (./resolve-guard.ts).
 */
export { entryOf, kRecord, type RequestEntry, type TrackedResponse } from './entry';
export { resolveGuard, type AdapterGuard, type GuardInput } from './resolve-guard';
