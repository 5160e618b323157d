/**
 * Stack frames as the two threads pass them: the probe's raw call sites
 * (main thread), and the report's frames the worker makes of them.
 */

/** [functionName, url, line, column, line where the function begins (0: unknown)]; 1-based, as V8 call sites give them. */
export type RawFrame = [string, string, number, number, number];

/** One frame of a blocking stack, top first; lines and columns are 1-based. */
export interface StackFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

/**
 * The probe's call sites → report frames: anonymous functions named and
 * `file://` URLs (ES modules) turned into paths. Lines and columns are
 * already 1-based.
 */
export function normaliseFrames(frames: readonly RawFrame[], max: number): StackFrame[] {
  const out: StackFrame[] = [];
  for (const [functionName, url, lineNumber, columnNumber] of frames) {
    if (out.length >= max) break;
    out.push({
      functionName: functionName || '(anonymous)',
      url: url.startsWith('file://') ? fileUrlToPath(url) : url,
      lineNumber,
      columnNumber,
    });
  }
  return out;
}

function fileUrlToPath(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname);
  } catch {
    return url;
  }
}

/** Node's own and dependencies' frames are context; the culprit is usually the app's. */
export function isAppFrame(frame: StackFrame): boolean {
  return frame.url !== '' && !frame.url.startsWith('node:') && !frame.url.includes('/node_modules/');
}

/** The frame a person wants to see first: the top frame in the app's own code, else the top frame. */
export function culpritFrame(stack: readonly StackFrame[]): StackFrame | undefined {
  return stack.find(isAppFrame) ?? stack[0];
}

/** `fn (file:line)`, with the file shown relative to `root` when it lies under it. */
export function formatFrame(frame: StackFrame, root?: string): string {
  let file = frame.url;
  if (root && file.startsWith(root + '/')) file = file.slice(root.length + 1);
  return `${frame.functionName} (${file}:${frame.lineNumber})`;
}
