/**
 * What a stall report says to do about its stall. A leaf module: the core,
 * the watchdog and the views all read it, and it reads nothing of theirs.
 */

/** The closed set of advice kinds; each has a README section of its own. */
export const ADVICE_KINDS = [
  'sync-crypto',
  'sync-fs',
  'sync-zlib',
  'sync-child-process',
  'sync-wait',
  'json',
  'regex',
  'cpu',
  'gc',
  'blocking-syscall',
  'host',
] as const;

export type AdviceKind = (typeof ADVICE_KINDS)[number];

/** JSON-serialisable, like the report that carries it. */
export interface Advice {
  /** The blocking API in canonical form (`'crypto.pbkdf2Sync'`, `'JSON.parse'`), or null when none was identified. */
  call: string | null;
  kind: AdviceKind;
  /** One or two sentences naming the non-blocking alternative. */
  fix: string;
  /** The README section that explains the pattern, with before and after code. */
  docs: string;
}

/** Where the README's advice sections live (GitHub's anchor of `### Advice: \`kind\``). */
export const ADVICE_DOCS_PREFIX = 'https://github.com/loopguard/loopguard/blob/main/docs/advice.md#advice-';

export function docsFor(kind: AdviceKind): string {
  return ADVICE_DOCS_PREFIX + kind;
}
