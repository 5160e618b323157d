import type { StackFrame } from '../core/stall-report';

/** The parts of a CDP `Debugger.CallFrame` we read. */
export interface ProtocolCallFrame {
  functionName: string;
  url?: string;
  location: { scriptId: string; lineNumber: number; columnNumber?: number };
}

/**
 * CDP frames → report frames: 1-based lines and columns (the protocol's are
 * 0-based), anonymous functions named, and `file://` URLs turned into paths.
 */
export function normaliseFrames(
  frames: readonly ProtocolCallFrame[],
  urlOf: (scriptId: string) => string | undefined,
  max: number,
): StackFrame[] {
  const out: StackFrame[] = [];
  for (const frame of frames) {
    if (out.length >= max) break;
    const url = frame.url || urlOf(frame.location.scriptId) || '';
    out.push({
      functionName: frame.functionName || '(anonymous)',
      url: url.startsWith('file://') ? fileUrlToPath(url) : url,
      lineNumber: frame.location.lineNumber + 1,
      columnNumber: (frame.location.columnNumber ?? 0) + 1,
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
