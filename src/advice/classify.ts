/**
 * From what one pause of the main thread saw to advice, or null.
 *
 * A pause lands only in JavaScript. Native work (`pbkdf2Sync`, `readFileSync`,
 * `JSON.parse`) is never caught in the act: the pause lands at the first
 * interrupt check after the call returns — often in Node's own wrapper
 * frames, which name the API, otherwise in the caller, a few tokens past the
 * call. So the evidence is read in that order: Node's frames on top of the
 * stack, then the source just before where each of the first frames outside
 * Node stood — a known call there counts only if no other call (which might
 * be what blocked) or `await` stands between it and the pause. JavaScript that is still running (a loop, a backtracking
 * regex, `Atomics.wait`, `JSON.stringify`) is paused within milliseconds,
 * right at the work: then only the paused line itself is read, and if it
 * names nothing the advice is `cpu`.
 *
 * Wrong advice is worse than none: a late pause that names nothing gives null.
 */
import type { Advice } from '../contract/advice';
import { adviceFor } from './fixes';
import { BLOCKING_PACKAGES, nodeModuleOf, RETURNS_FROM_PARSER, SYNC_FUNCTIONS, ZLIB_GENERIC, ZLIB_WRAPPERS, type KnownCall } from './known-calls';
import { findCalls, returnedCall } from './source-scan';

/** A stack frame as reports carry it: 1-based line and column. */
export interface AdviceFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

/** A frame's script text, and the line its function starts on (regions never reach above it). */
export interface FrameSource {
  text: string;
  functionLine?: number;
}

export interface PauseEvidence {
  /** Top first. */
  stack: readonly AdviceFrame[];
  /** By index into `stack`; only frames outside Node's own modules need one. */
  sources: readonly (FrameSource | undefined)[];
  /** The pause landed within a few milliseconds of being asked for: JavaScript was running, not a native call. */
  prompt: boolean;
}

/** Frames outside Node read after a late pause: the native call returned in one of them. */
const FRAMES_READ_AFTER_LATE_PAUSE = 3;
/**
 * How far above the paused line a late pause looks for the call that just
 * returned. Every call into JavaScript checks for interrupts on entry, so
 * the pause lands at the first one after the native call; plain conditions
 * in between do not (secure-json-parse tests two options between its
 * `JSON.parse` and its next call, 16 lines down).
 */
const LINES_BEFORE = 20;
const CHARS_BEFORE = 1200;

export const isNodeFrame = (frame: AdviceFrame): boolean => frame.url === '' || frame.url.startsWith('node:');

export function classifyPause(evidence: PauseEvidence): Advice | null {
  const { stack } = evidence;
  const first = stack.findIndex((f) => !isNodeFrame(f));
  if (first < 0) return null;
  const fromNode = first > 0 ? nodeApi(stack[first - 1]!) : undefined;
  if (fromNode) {
    // The caller stood at the call into Node: that call itself counts.
    const refined = fromNode.call === null ? callBefore(evidence, first, fromNode.kind) : undefined;
    return adviceFor(fromNode.kind, refined ?? fromNode);
  }
  const pkg = BLOCKING_PACKAGES.find((p) => p.pattern.test(stack[first]!.url));
  if (pkg) {
    const outside = stack.findIndex((f, i) => i > first && !isNodeFrame(f) && !pkg.pattern.test(f.url));
    const refined = outside < 0 ? undefined : callBefore(evidence, outside, pkg.kind);
    return adviceFor(pkg.kind, refined ?? { call: null, kind: pkg.kind, instead: pkg.instead });
  }
  if (evidence.prompt) {
    const running = callAtPause(evidence, first);
    return running ? adviceFor(running.kind, running) : adviceFor('cpu');
  }
  // Down the stack while a frame's code before its pause calls nothing: the
  // call that returned is the nearest one before a pause, or it is unknown.
  let read = 0;
  for (let i = first; i < stack.length && read < FRAMES_READ_AFTER_LATE_PAUSE; i++) {
    if (isNodeFrame(stack[i]!)) continue;
    read++;
    const parser = RETURNS_FROM_PARSER.find((p) => p.pattern.test(stack[i]!.url));
    if (parser) return adviceFor(parser.known.kind, parser.known);
    const region = regionOf(evidence, i, LINES_BEFORE, CHARS_BEFORE, 80);
    if (!region) return null;
    // The call at the pause itself has not run yet (had it been running JavaScript, the pause would have been prompt).
    const returned = returnedCall(region.text, region.pausedAt, region.script);
    if (returned === 'opaque') return null;
    if (returned) return adviceFor(returned.known.kind, returned.known);
  }
  return null;
}

/** Advice for a stall that was mostly garbage collection. */
export function gcAdvice(): Advice {
  return adviceFor('gc');
}

/** The public API a frame of Node's own modules stands for, when its name tells. */
function nodeApi(frame: AdviceFrame): KnownCall | undefined {
  const module = nodeModuleOf(frame.url);
  if (module === undefined) return undefined;
  if (module === 'zlib' && ZLIB_WRAPPERS.has(frame.functionName)) return ZLIB_GENERIC;
  const known = SYNC_FUNCTIONS.get(frame.functionName);
  return known?.call === `${module}.${frame.functionName}` ? known : undefined;
}

/** The last call of `kind` written at or before where frame `index` stood: it called into Node (or a package) from there. */
function callBefore(evidence: PauseEvidence, index: number, kind: KnownCall['kind']): KnownCall | undefined {
  const region = regionOf(evidence, index, LINES_BEFORE, CHARS_BEFORE, 80);
  if (!region) return undefined;
  const calls = findCalls(region.text, region.script).filter((c) => c.at <= region.pausedAt && c.known.kind === kind);
  return calls[calls.length - 1]?.known;
}

/** The known call being made on the paused line, at or just before the pause. */
function callAtPause(evidence: PauseEvidence, index: number): KnownCall | undefined {
  const region = regionOf(evidence, index, 0, 160, 80);
  if (!region) return undefined;
  const calls = findCalls(region.text, region.script).filter((c) => c.at <= region.pausedAt);
  return calls[calls.length - 1]?.known;
}

interface Region {
  text: string;
  /** Offset of the paused position in `text`. */
  pausedAt: number;
  script: string;
}

/** Source from `linesBefore` lines above the paused line (never above the function's first line) to a little past the pause. */
function regionOf(evidence: PauseEvidence, index: number, linesBefore: number, charsBefore: number, charsAfter: number): Region | undefined {
  const frame = evidence.stack[index];
  const source = evidence.sources[index];
  if (!frame || !source) return undefined;
  const { text } = source;
  const lineStart = offsetOfLine(text, frame.lineNumber);
  if (lineStart < 0) return undefined;
  const paused = Math.min(text.length, lineStart + frame.columnNumber - 1);
  const fromLine = Math.max(frame.lineNumber - linesBefore, source.functionLine ?? 1, 1);
  const start = Math.max(offsetOfLine(text, fromLine), paused - charsBefore);
  let end = text.indexOf('\n', paused);
  if (end < 0) end = text.length;
  end = Math.min(end, paused + charsAfter);
  return { text: text.slice(start, end), pausedAt: paused - start, script: text };
}

/** Offset of the start of 1-based line `line`, or -1 past the end. */
function offsetOfLine(text: string, line: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const next = text.indexOf('\n', offset);
    if (next < 0) return -1;
    offset = next + 1;
  }
  return offset;
}
