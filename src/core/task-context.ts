/**
 * Pool tasks as culprits. A task runs in a context of its own, the way a
 * request does: a record in the request store (core/request-context.ts)
 * whose route is the task's name and which says it is a task, so the
 * capture probe names it and the pipeline reports `cause: 'task'`. Nothing
 * from the task's arguments is kept: the name is fixed by the code that
 * runs the task, and counts against the route cap like a route template.
 */
import { isAbsolute, relative, sep } from 'node:path';
import { requestStore, type RequestRecord } from './request-context';

/** Task names are label values: 1–64 characters, no control characters. */
export const MAX_TASK_NAME = 64;

export function isTaskName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= MAX_TASK_NAME && !/[\u0000-\u001f\u007f]/.test(name);
}

/**
 * A task's record answers the probe as a request's does, but it belongs to
 * no tracker: it is never a victim, never charged, never counted in flight.
 * Work a task leaves behind after it settles is background.
 */
const TASK_OWNER: RequestRecord['owner'] = {
  finish: () => undefined,
  arrivedDuringStall: () => false,
  blameAfterResponseMs: 0,
  window: 0,
};

// Apart from request ids (a tracker's, from 1): the split of a stall tells callbacks apart by id.
const FIRST_TASK_ID = 0x40000000;
let nextTaskId = FIRST_TASK_ID;

/** A new task's record, open until `closeTask`. */
export function openTask(name: string): RequestRecord {
  const id = nextTaskId++;
  if (nextTaskId > 0x7fffffff) nextTaskId = FIRST_TASK_ID;
  return {
    id,
    method: '',
    req: null,
    routeOf: () => name,
    startDelayMs: 0,
    capturedWindow: 0,
    blockingMs: 0,
    busySamples: 0,
    finished: false,
    finishedAt: 0,
    finalRoute: name,
    span: undefined,
    owner: TASK_OWNER,
    task: true,
  };
}

export function closeTask(record: RequestRecord): void {
  record.finished = true;
  record.finishedAt = performance.now();
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

/** Runs `fn` as one task named `name`; the record is closed, and `settled` called, when its result settles. */
export function runTask<R>(name: string, fn: () => R, settled?: () => void): R {
  const record = openTask(name);
  const close = (): void => {
    closeTask(record);
    settled?.();
  };
  let result: R;
  try {
    result = requestStore.run(record, fn);
  } catch (err) {
    close();
    throw err;
  }
  if (isThenable(result)) result.then(close, close);
  else close();
  return result;
}

/**
 * True when this thread is a piscina worker: piscina runs its workers from its
 * own `dist/worker.js` (`dist/src/worker.js` in piscina 4), which is the
 * thread's `process.argv[1]`.
 */
export function isPiscinaWorker(argv1: string | undefined = process.argv[1]): boolean {
  return argv1 !== undefined && /[\\/]piscina[\\/]dist[\\/](?:src[\\/])?worker\.js$/.test(argv1);
}

/**
 * A piscina task's name, `<file>#<export>`, from the `filename` and `name` of
 * its task message: the file relative to `cwd` when inside it (else its base
 * name: the rest of an absolute path says nothing a label needs), and the
 * export piscina calls (`default` unless the pool or the run names one).
 * Long names keep their end: the file and the export tell tasks apart.
 */
export function piscinaTaskName(filename: string | null | undefined, name: string | null | undefined, cwd: string = process.cwd()): string {
  let file = typeof filename === 'string' && filename !== '' ? filename : '(pool)';
  if (file.startsWith('file:')) {
    try {
      file = decodeURIComponent(new URL(file).pathname);
    } catch {
      // Kept as given.
    }
  }
  if (isAbsolute(file)) {
    const rel = relative(cwd, file);
    const inside = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
    file = inside ? rel : file.slice(file.lastIndexOf(sep) + 1);
  }
  const exported = typeof name === 'string' && name !== '' ? name : 'default';
  return clipTaskName(`${file.split(sep).join('/')}#${exported}`.replace(/[\u0000-\u001f\u007f]/g, '?'));
}

function clipTaskName(name: string): string {
  return name.length <= MAX_TASK_NAME ? name : `…${name.slice(name.length - MAX_TASK_NAME + 1)}`;
}
