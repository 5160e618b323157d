/**
 * Where a request's record lives between open and finish, and the one way
 * to finish it. The response carries it under a registry symbol, so that a
 * second adapter, the zero-code start plus an explicit adapter, or two
 * copies of loopguard see the request is tracked already and count it once.
 */
import type { ServerResponse } from 'node:http';
import type { RequestRecord } from '../core/request-context';
import { kRecord } from '../contract/symbols';

export { kRecord };

export type TrackedResponse = ServerResponse & { [kRecord]?: RequestRecord };

/** Finishes a record once, whichever path gets there first. Never throws. */
export function finishRecord(record: RequestRecord | undefined): void {
  if (record === undefined || record.finished) return;
  try {
    record.owner.finish(record);
  } catch {
    // Never throw into the emitter or channel that told us.
  }
}

/** The response finished (channel) or closed (listener): its record, if any, is done. */
export function finishResponse(res: TrackedResponse): void {
  finishRecord(res[kRecord]);
}
