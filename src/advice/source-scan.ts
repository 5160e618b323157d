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
