/**
 * The synchronous APIs loopguard recognises, and what to use instead. Kept
 * as data: the classifier, the README and the tests read the same table.
 */
import type { AdviceKind } from '../contract/advice';

export interface KnownCall {
  /** Canonical name, e.g. `'crypto.pbkdf2Sync'`; null when only the kind is known. */
  readonly call: string | null;
  readonly kind: AdviceKind;
  /** The non-blocking alternative the fix names. */
  readonly instead: string;
}

const FS_SYNC = [
  'readFileSync', 'writeFileSync', 'appendFileSync', 'readdirSync', 'statSync', 'lstatSync', 'fstatSync',
  'existsSync', 'accessSync', 'openSync', 'readSync', 'writeSync', 'closeSync', 'mkdirSync', 'mkdtempSync',
  'rmSync', 'rmdirSync', 'unlinkSync', 'renameSync', 'copyFileSync', 'cpSync', 'readlinkSync', 'realpathSync',
  'symlinkSync', 'linkSync', 'truncateSync', 'ftruncateSync', 'fsyncSync', 'fdatasyncSync', 'chmodSync',
  'chownSync', 'utimesSync', 'opendirSync', 'globSync', 'statfsSync', 'readvSync', 'writevSync',
] as const;
const ZLIB_SYNC = [
  'gzipSync', 'gunzipSync', 'deflateSync', 'inflateSync', 'deflateRawSync', 'inflateRawSync', 'unzipSync',
  'brotliCompressSync', 'brotliDecompressSync', 'zstdCompressSync', 'zstdDecompressSync',
] as const;
const CRYPTO_SYNC = [
  'pbkdf2Sync', 'scryptSync', 'hkdfSync', 'generateKeyPairSync', 'generateKeySync', 'generatePrimeSync',
  'checkPrimeSync', 'randomFillSync',
] as const;
const CHILD_PROCESS_SYNC = ['execSync', 'execFileSync', 'spawnSync'] as const;
/** Well-known packages' synchronous forms (bcrypt and bcryptjs share these names). */
const BCRYPT_SYNC = ['hashSync', 'compareSync', 'genSaltSync'] as const;

const asyncName = (name: string): string => name.slice(0, -'Sync'.length);

function entries(module: string, names: readonly string[], kind: AdviceKind, instead: (name: string) => string): [string, KnownCall][] {
  return names.map((name) => [name, { call: `${module}.${name}`, kind, instead: instead(name) }]);
}

/** Bare function name → call. Matched in source whatever the object in front (`crypto.`, `(0, node_crypto_1.`, none). */
export const SYNC_FUNCTIONS: ReadonlyMap<string, KnownCall> = new Map([
  ...entries('fs', FS_SYNC, 'sync-fs', (n) => `fs.promises.${asyncName(n)}`),
  ...entries('zlib', ZLIB_SYNC, 'sync-zlib', (n) => `zlib.${asyncName(n)}`),
  ...entries('crypto', CRYPTO_SYNC, 'sync-crypto', (n) => `crypto.${asyncName(n)}`),
  ...entries('child_process', CHILD_PROCESS_SYNC, 'sync-child-process', (n) => `child_process.${asyncName(n)}`),
  ...entries('bcrypt', BCRYPT_SYNC, 'sync-crypto', (n) => `bcrypt.${asyncName(n)}`),
]);

/** Global functions matched with their object, as written. */
export const QUALIFIED_CALLS: ReadonlyMap<string, KnownCall> = new Map([
  ['JSON.parse', { call: 'JSON.parse', kind: 'json', instead: 'a streaming JSON parser' }],
  ['JSON.stringify', { call: 'JSON.stringify', kind: 'json', instead: 'a streaming JSON serialiser' }],
  ['Atomics.wait', { call: 'Atomics.wait', kind: 'sync-wait', instead: 'Atomics.waitAsync' }],
]);

/** Methods that run a regular expression; matched only when the receiver or argument is known to be one. */
export const REGEX_METHODS: ReadonlyMap<string, KnownCall> = new Map(
  (
    [
      ['test', 'RegExp.prototype'], ['exec', 'RegExp.prototype'], ['match', 'String.prototype'], ['matchAll', 'String.prototype'],
      ['replace', 'String.prototype'], ['replaceAll', 'String.prototype'], ['search', 'String.prototype'], ['split', 'String.prototype'],
    ] as const
  ).map(([method, owner]) => [method, { call: `${owner}.${method}`, kind: 'regex', instead: 'a linear-time pattern' }]),
);

/**
 * Node's own modules, by the URL of their frames: a frame of one of them,
 * called straight from outside Node, is the public API the code called.
 * Names there are the public ones (`readFileSync` in `node:fs`), except
 * zlib's convenience methods, which all share one wrapper.
 */
export function nodeModuleOf(url: string): 'fs' | 'zlib' | 'crypto' | 'child_process' | undefined {
  if (url === 'node:fs' || url.startsWith('node:internal/fs/')) return 'fs';
  if (url === 'node:zlib') return 'zlib';
  if (url === 'node:crypto' || url.startsWith('node:internal/crypto/')) return 'crypto';
  if (url === 'node:child_process' || url === 'node:internal/child_process') return 'child_process';
  return undefined;
}

/** A zlib convenience method whose name the frames do not tell: the kind is known, the call is found in the caller's source. */
export const ZLIB_WRAPPERS: ReadonlySet<string> = new Set(['syncBufferWrapper', 'zlibBufferSync', 'processChunkSync']);
export const ZLIB_GENERIC: KnownCall = { call: null, kind: 'sync-zlib', instead: 'the asynchronous zlib function' };

/**
 * Library code that calls a native parser and returns straight into the
 * frame named here: after a late pause, that frame means the parser ran.
 * body-parser's `read` calls the type's `parse(str)` (for `express.json()`,
 * `JSON.parse`) and then `next()`, where the pause lands.
 */
export const RETURNS_FROM_PARSER: readonly { pattern: RegExp; known: KnownCall }[] = [
  { pattern: /[\\/]node_modules[\\/]body-parser[\\/]lib[\\/]read\.js$/, known: QUALIFIED_CALLS.get('JSON.parse')! },
];

/** Packages whose own frames on top of the stack mean a synchronous kind, whatever function is running in them. */
export const BLOCKING_PACKAGES: readonly { pattern: RegExp; kind: AdviceKind; instead: string }[] = [
  { pattern: /[\\/]node_modules[\\/]bcryptjs[\\/]/, kind: 'sync-crypto', instead: 'bcrypt.hash (async, or the native bcrypt package)' },
];
