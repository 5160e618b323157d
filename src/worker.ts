/**
 * `import 'loopguard/worker'` inside a worker thread watches that thread
 * (`watchThisThread()` with its defaults); import `watchThisThread` from here
 * to pass options instead. On the main thread the import does nothing.
 */
import { watchThisThread } from './thread-guard';

export { watchThisThread, threadGuard, type WatchThisThreadOptions } from './thread-guard';

watchThisThread();
