/**
 * Pool tasks as culprits. A task runs in a context of its own, the way a
 * request does: a record in the request store (core/request-context.ts)
 * whose route is the task's name and which says it is a task, so the
 * capture probe names it and the pipeline reports `cause: 'task'`. Nothing
 * from the task's arguments is kept: the name is fixed when the task is
 * wrapped, so the `route` label stays as capped as the routes are.
 */
import { isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { callerFrames } from './call-sites';
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

export interface TaskName {
  /** The name now (a guess until the export's name is known). */
  current: string;
}

function openTask(name: TaskName): RequestRecord {
  const id = nextTaskId++;
  if (nextTaskId > 0x7fffffff) nextTaskId = FIRST_TASK_ID;
  return {
    id,
    method: '',
    req: null,
    routeOf: () => name.current,
    startDelayMs: 0,
    capturedWindow: 0,
    blockingMs: 0,
    busySamples: 0,
    finished: false,
    finishedAt: 0,
    finalRoute: name.current,
    span: undefined,
    owner: TASK_OWNER,
    task: true,
  };
}

function close(record: RequestRecord): void {
  record.finished = true;
  record.finishedAt = performance.now();
}

/** Runs `fn` as one task named `name`; the record is closed when its result settles. */
export function runTask<R>(name: TaskName, fn: () => R): R {
  const record = openTask(name);
  let result: R;
  try {
    result = requestStore.run(record, fn);
  } catch (err) {
    close(record);
    throw err;
  }
  if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
    (result as unknown as PromiseLike<unknown>).then(
      () => close(record),
      () => close(record),
    );
  } else close(record);
  return result;
}

/**
 * True when this thread is a piscina worker: piscina runs its workers from its
 * own `dist/worker.js`, which is the thread's `process.argv[1]`.
 */
export function isPiscinaWorker(argv1: string | undefined = process.argv[1]): boolean {
  return argv1 !== undefined && /[\\/]piscina[\\/]dist[\\/]worker\.js$/.test(argv1);
}

/**
 * The name of a task wrapped without one: `<file>#<export>`, as piscina
 * finds it (its `filename` and `name` options). The file is the one that
 * called `task(fn)`, relative to the working directory when inside it; the
 * export is found by looking the wrapper up in that module's exports once it
 * has loaded (`default` for a default export), and is the function's own
 * name (or `default`) until then.
 */
export function defaultTaskName(wrapper: Function, fn: Function, caller: Function): TaskName {
  const file = callerFrames(caller, 1)[0]?.[1] ?? '';
  const path = file.startsWith('file:') ? safePath(file) : file;
  const shown = path === '' ? 'task' : shortPath(path);
  const name: TaskName = { current: clip(`${shown}#${fn.name || 'default'}`) };
  if (path !== '' && isAbsolute(path)) {
    // The module is still being evaluated (task(fn) runs at its top level): its namespace resolves once it has.
    import(pathToFileURL(path).href).then(
      (namespace: Record<string, unknown>) => {
        for (const key of Object.keys(namespace)) {
          if (namespace[key] === wrapper) return void (name.current = clip(`${shown}#${key}`));
        }
        // CommonJS: module.exports is the namespace's default.
        const cjs = namespace['default'] as Record<string, unknown> | undefined;
        if ((cjs as unknown) === wrapper) return void (name.current = clip(`${shown}#default`));
        if (cjs !== null && typeof cjs === 'object') {
          for (const key of Object.keys(cjs)) if (cjs[key] === wrapper) return void (name.current = clip(`${shown}#${key}`));
        }
      },
      () => undefined,
    );
  }
  return name;
}

function safePath(url: string): string {
  try {
    return fileURLToPath(url);
  } catch {
    return '';
  }
}

function shortPath(path: string): string {
  const rel = relative(process.cwd(), path);
  const inside = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  return (inside ? rel : path.slice(path.lastIndexOf(sep) + 1)).split(sep).join('/');
}

/** Long paths keep their end: the file and the export tell tasks apart. */
function clip(name: string): string {
  return name.length <= MAX_TASK_NAME ? name : `…${name.slice(name.length - MAX_TASK_NAME + 1)}`;
}
