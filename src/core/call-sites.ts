/**
 * The interrupted code's stack, read on the main thread by the probe itself.
 *
 * The watchdog runs the probe through `Runtime.evaluate` without pausing:
 * Node dispatches inspector messages to the main thread through a V8
 * interrupt, so the probe runs on top of the JavaScript that holds the loop,
 * and a stack trace taken there shows that code (checked on Node 20, 24, 26).
 * This replaces `Debugger.pause` + call frames: with the Debugger domain
 * enabled every evaluated probe is reported and kept as a script (≈ 0.6 KB
 * of native memory each, measured) and costs ≈ 5× more main-thread time.
 */
import type { RawFrame } from '../contract/frames';


type CallSite = {
  getFunctionName(): string | null;
  getFileName(): string | undefined | null;
  getLineNumber(): number | null;
  getColumnNumber(): number | null;
  /** Node 17+: where the enclosing function begins. */
  getEnclosingLineNumber?(): number | null;
};

const capture = (_error: Error, sites: CallSite[]): CallSite[] => sites;

/**
 * Frames below `above` (the probe) and the evaluated expression's own frames,
 * top first. Restores any `Error.prepareStackTrace` the app installed.
 */
export function callerFrames(above: Function, max: number): RawFrame[] {
  const saved = Error.prepareStackTrace;
  const savedLimit = Error.stackTraceLimit;
  try {
    // The evaluated expression adds up to two frames (its function and its script).
    Error.stackTraceLimit = max + 2;
    Error.prepareStackTrace = capture as unknown as typeof Error.prepareStackTrace;
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder, above);
    const sites = holder.stack as CallSite[] | undefined;
    if (!Array.isArray(sites)) return [];
    let i = 0;
    // The evaluated expression: a script with no name, on line 1.
    while (i < sites.length && i < 2 && !sites[i]!.getFileName() && sites[i]!.getLineNumber() === 1) i++;
    const out: RawFrame[] = [];
    for (; i < sites.length && out.length < max; i++) {
      const site = sites[i]!;
      out.push([
        site.getFunctionName() ?? '',
        site.getFileName() ?? '',
        site.getLineNumber() ?? 0,
        site.getColumnNumber() ?? 0,
        site.getEnclosingLineNumber?.() ?? 0,
      ]);
    }
    return out;
  } catch {
    return [];
  } finally {
    Error.prepareStackTrace = saved;
    Error.stackTraceLimit = savedLimit;
  }
}
