/**
 * Finds the known synchronous calls written in a stretch of source text.
 * Pure text work: it never evaluates anything, and knows no more than what
 * the text shows, so it errs on the side of finding nothing.
 */
import { QUALIFIED_CALLS, REGEX_METHODS, SYNC_FUNCTIONS, type KnownCall } from './known-calls';

export interface FoundCall {
  known: KnownCall;
  /** Offset of the call's name in the scanned text. */
  at: number;
}

const IDENT = '[A-Za-z_$][\\w$]*';
const SYNC_CALL = new RegExp(`(?<![\\w$])(${[...SYNC_FUNCTIONS.keys()].join('|')})\\s*\\)?\\s*\\(`, 'g');
const QUALIFIED_CALL = /(?<![\w$.])(JSON\s*\.\s*(?:parse|stringify)|Atomics\s*\.\s*wait)\s*\(/g;
/** `/re/.test(`, `re.exec(` */
const REGEX_RECEIVER = new RegExp(`(\\/(?:[^/\\\\\\n]|\\\\.)+\\/[dgimsuyv]*|${IDENT})\\s*\\.\\s*(test|exec)\\s*\\(`, 'g');
/** `s.match(/re/`, `s.replace(re,` */
const REGEX_ARGUMENT = new RegExp(`\\.\\s*(match|matchAll|replace|replaceAll|search|split)\\s*\\(\\s*(\\/(?:[^/\\\\\\n]|\\\\.)+\\/|${IDENT})`, 'g');

/**
 * Every known call in `text`, in order. `script` is the whole script, used
 * to tell whether an identifier in front of `.test(` was declared as a
 * regular expression (`const EMAIL = /…/` or `new RegExp(…)`).
 */
export function findCalls(text: string, script: string): FoundCall[] {
  const found: FoundCall[] = [];
  for (const m of text.matchAll(SYNC_CALL)) {
    const known = SYNC_FUNCTIONS.get(m[1]!);
    if (known) found.push({ known, at: m.index! });
  }
  for (const m of text.matchAll(QUALIFIED_CALL)) {
    const known = QUALIFIED_CALLS.get(m[1]!.replace(/\s+/g, ''));
    if (known) found.push({ known, at: m.index! });
  }
  for (const m of text.matchAll(REGEX_RECEIVER)) {
    if (!isRegex(m[1]!, script)) continue;
    found.push({ known: REGEX_METHODS.get(m[2]!)!, at: m.index! + m[0].lastIndexOf(m[2]!) });
  }
  for (const m of text.matchAll(REGEX_ARGUMENT)) {
    if (!isRegex(m[2]!, script)) continue;
    found.push({ known: REGEX_METHODS.get(m[1]!)!, at: m.index! + m[0].indexOf(m[1]!) });
  }
  return found.sort((a, b) => a.at - b.at);
}

const declaredRegex = new Map<string, RegExp>();

function isRegex(receiver: string, script: string): boolean {
  if (receiver.startsWith('/')) return true;
  let declared = declaredRegex.get(receiver);
  if (declared === undefined) {
    if (declaredRegex.size > 256) declaredRegex.clear();
    declared = new RegExp(`(?<![\\w$.])${receiver.replace(/\$/g, '\\$')}\\s*=\\s*(?:\\/(?![/*])|new\\s+RegExp\\s*\\(|RegExp\\s*\\()`);
    declaredRegex.set(receiver, declared);
  }
  return declared.test(script);
}

/**
 * Builtins that run no JavaScript of the caller's and (apart from those
 * taking callbacks, whose callbacks would have been paused instead) never
 * check for interrupts: a late pause can land after them, so they may sit
 * between the call that returned and the pause. Any other call there may be
 * the one that held the loop.
 */
const TRANSPARENT = new Set([
  'split', 'slice', 'substring', 'substr', 'trim', 'trimStart', 'trimEnd', 'toString', 'toLowerCase', 'toUpperCase',
  'join', 'concat', 'push', 'pop', 'shift', 'unshift', 'indexOf', 'lastIndexOf', 'includes', 'startsWith', 'endsWith',
  'charCodeAt', 'charAt', 'at', 'padStart', 'padEnd', 'repeat', 'keys', 'values', 'entries', 'assign', 'freeze',
  'isArray', 'from', 'of', 'parseInt', 'parseFloat', 'Number', 'String', 'Boolean', 'round', 'floor', 'ceil', 'min',
  'max', 'abs', 'sqrt', 'random', 'now', 'map', 'filter', 'forEach', 'reduce', 'some', 'every', 'find', 'findIndex',
  'has', 'get', 'set', 'subarray', 'fill', 'byteLength',
]);
/** Words followed by `(` that are not calls. */
const NOT_CALLS = new Set(['if', 'for', 'while', 'switch', 'catch', 'function', 'return', 'typeof', 'void', 'delete', 'in', 'of', 'do', 'else', 'case']);
const CALL_TOKEN = /(?<![\w$])(function\s*\*?\s*)?([A-Za-z_$][\w$]*)\s*\(/g;
const ASYNC_BOUNDARY = /(?<![\w$.])(await|yield)(?![\w$])/;

export type Returned = FoundCall | 'opaque' | undefined;

/**
 * The known call that just returned before `pausedAt`, when the text between
 * it and the pause holds no other call that could have run long instead:
 * `'opaque'` when some other call (or an `await`: the code above it ran in
 * an earlier turn) is closer to the pause, undefined when there is no call at all.
 */
export function returnedCall(text: string, pausedAt: number, script: string): Returned {
  const known = findCalls(text, script).filter((c) => c.at < pausedAt);
  const last = known[known.length - 1];
  const gapFrom = last === undefined ? 0 : endOfArguments(text, last.at);
  const gap = text.slice(gapFrom, pausedAt);
  if (ASYNC_BOUNDARY.test(gap)) return 'opaque';
  for (const m of gap.matchAll(CALL_TOKEN)) {
    const name = m[2]!;
    if (m[1] || NOT_CALLS.has(name) || TRANSPARENT.has(name)) continue;
    if (isDefinition(gap, m.index! + m[0].length - 1)) continue;
    return 'opaque';
  }
  return last;
}

/** Offset just past the argument list of the call whose name starts at `at` (the text's end if unclosed). */
function endOfArguments(text: string, at: number): number {
  let i = text.indexOf('(', at);
  if (i < 0) return text.length;
  let depth = 0;
  let quote = '';
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = '';
    } else if (ch === '"' || ch === "'" || ch === '`') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return i + 1;
  }
  return text.length;
}

/** `name(a, b) {` or `(a) =>`: a definition or a parameter list, not a call. */
function isDefinition(text: string, openParen: number): boolean {
  const close = endOfArguments(text, openParen);
  return /^\s*(\{|=>)/.test(text.slice(close));
}
