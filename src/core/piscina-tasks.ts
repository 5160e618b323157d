/**
 * Piscina's tasks seen from inside its worker, with no code of the user's.
 *
 * Piscina's worker waits for work in `Atomics.wait` and takes each task
 * message with `receiveMessageOnPort(port)`, read off the `node:worker_threads`
 * exports object at every call; it answers on the same port with
 * `port.postMessage({ taskId, ... })`. So the task begins where that read
 * returns a message `{ taskId, filename, name }`, and ends where the answer is
 * posted. The read is wrapped on the exports object (this thread's only: a
 * worker has its own module instances), the answer on that one port object,
 * and both pass everything through untouched. The task's context is entered
 * where it begins (`enterWith`): piscina calls its handler from there, so the
 * handler and everything it awaits run in it.
 *
 * Tasks that piscina takes as 'message' events (`atomics: 'disabled'`, or a
 * second task reaching a worker while another awaits) pass by unseen: they run
 * in no task's context, and their stalls are background.
 */
// A plain require: the exports object itself, not an interop copy of it, is what piscina reads.
import workerThreads = require('node:worker_threads');
import { requestStore, type RequestRecord } from './request-context';
import { closeTask, openTask, piscinaTaskName } from './task-context';

export interface PiscinaTaskEvents {
  /** A task begins, named `<file>#<export>`. */
  began(name: string): void;
  /** A task that began has been answered. */
  ended(name: string): void;
}

type Receive = typeof workerThreads.receiveMessageOnPort;
type Port = { postMessage(message: unknown, transferList?: readonly unknown[]): void };

interface TaskMessage {
  taskId: unknown;
  filename?: unknown;
  name?: unknown;
}

/** The `receiveMessageOnPort` this module found, for loopguard's own reads of its channel. */
export const receiveMessageOnPort: Receive = workerThreads.receiveMessageOnPort;

function isTaskMessage(message: unknown): message is TaskMessage {
  return typeof message === 'object' && message !== null && 'taskId' in message && 'filename' in message && 'name' in message;
}

/**
 * Starts seeing piscina's tasks in this thread; returns the undo. Callbacks
 * that throw are swallowed: piscina's own protocol must never see them.
 */
export function watchPiscinaTasks(events: PiscinaTaskEvents): () => void {
  const exportsObject = workerThreads as unknown as { receiveMessageOnPort: Receive };
  const original = exportsObject.receiveMessageOnPort;
  /** Tasks begun and not yet answered, by piscina's task id. */
  const running = new Map<unknown, RequestRecord>();
  const wrappedPorts = new WeakSet<object>();
  let active = true;

  const answered = (message: unknown): void => {
    if (!active || typeof message !== 'object' || message === null || !('taskId' in message)) return;
    const record = running.get((message as { taskId: unknown }).taskId);
    if (record === undefined) return;
    running.delete((message as { taskId: unknown }).taskId);
    closeTask(record);
    events.ended(record.finalRoute!);
  };

  const wrapPort = (port: Port): void => {
    if (wrappedPorts.has(port) || typeof port.postMessage !== 'function') return;
    wrappedPorts.add(port);
    const post = port.postMessage;
    // An own property on this one port: the prototype, and every other port, stay as they are.
    port.postMessage = function postMessage(this: Port, message: unknown, transferList?: readonly unknown[]) {
      const result = post.call(this, message, transferList);
      try {
        answered(message);
      } catch {
        // Never into piscina's protocol.
      }
      return result;
    };
  };

  const receive = function receiveMessageOnPort(port: Parameters<Receive>[0]): ReturnType<Receive> {
    const entry = original(port);
    if (!active || entry === undefined) return entry;
    try {
      const message = (entry as { message: unknown }).message;
      if (isTaskMessage(message)) {
        wrapPort(port as unknown as Port);
        const record = openTask(piscinaTaskName(message.filename as string | null, message.name as string | null));
        running.set(message.taskId, record);
        events.began(record.finalRoute!);
        // Piscina runs the task from here (onMessage → getHandler → handler): it runs in this context.
        requestStore.enterWith(record);
      }
    } catch {
      // Never into piscina's protocol.
    }
    return entry;
  } as Receive;

  exportsObject.receiveMessageOnPort = receive;
  return () => {
    active = false;
    if (exportsObject.receiveMessageOnPort === receive) exportsObject.receiveMessageOnPort = original;
  };
}
