/**
 * Options from environment variables, for the zero-code start
 * (`node --import loopguard/register app.js`). Pure: reads the env object it
 * is given, writes nothing. Every value is validated here and again by
 * `resolveOptions`. As the OpenTelemetry SDK does with its variables, an
 * unknown or invalid variable never stops the app: it is named in one
 * warning and left out, and its option keeps its default.
 */
import type { StallReport } from './core/stall-report';
import { InvalidOptionError } from './errors';
import { resolveOptions, type LoopGuardOptions } from './options';
import { resolveBudget, TEST_RUN_QUIET, type BudgetRunConfig } from './budget/budget-config';

type Kind = 'number' | 'boolean' | 'string' | 'onStall' | 'list';

interface EnvVariable {
  readonly name: string;
  readonly kind: Kind;
  /** Where the value goes: an option path (`prometheus.prefix`), or '' for register-only switches. */
  readonly option: string;
}

/** The variables, in the order the README documents them. */
export const ENV_VARIABLES: readonly EnvVariable[] = [
  { name: 'LOOPGUARD_ENABLED', kind: 'boolean', option: '' },
  { name: 'LOOPGUARD_THRESHOLD_MS', kind: 'number', option: 'thresholdMs' },
  { name: 'LOOPGUARD_IGNORE', kind: 'list', option: 'ignore' },
  { name: 'LOOPGUARD_REPORTS_PER_CULPRIT_PER_MINUTE', kind: 'number', option: 'reportsPerCulpritPerMinute' },
  { name: 'LOOPGUARD_ON_STALL', kind: 'onStall', option: 'onStall' },
  { name: 'LOOPGUARD_CAPTURE_STACKS', kind: 'boolean', option: 'captureStacks' },
  { name: 'LOOPGUARD_MAX_ROUTES', kind: 'number', option: 'maxRoutes' },
  { name: 'LOOPGUARD_PRECISE', kind: 'boolean', option: 'precise' },
  { name: 'LOOPGUARD_STARTUP_GRACE_MS', kind: 'number', option: 'startupGraceMs' },
  { name: 'LOOPGUARD_BLAME_AFTER_RESPONSE_MS', kind: 'number', option: 'blameAfterResponseMs' },
  { name: 'LOOPGUARD_MAX_STACK_FRAMES', kind: 'number', option: 'maxStackFrames' },
  { name: 'LOOPGUARD_RECENT_STALLS', kind: 'number', option: 'recentStalls' },
  { name: 'LOOPGUARD_EXPECTED_BLOCKING_ROUTES', kind: 'list', option: 'expectedBlockingRoutes' },
  { name: 'LOOPGUARD_PROMETHEUS', kind: 'boolean', option: 'prometheus' },
  { name: 'LOOPGUARD_PROMETHEUS_PREFIX', kind: 'string', option: 'prometheus.prefix' },
  { name: 'LOOPGUARD_METRICS_PORT', kind: 'number', option: 'metricsServer.port' },
  { name: 'LOOPGUARD_METRICS_HOST', kind: 'string', option: 'metricsServer.host' },
  { name: 'LOOPGUARD_OTEL', kind: 'boolean', option: 'otel' },
  { name: 'LOOPGUARD_OTEL_TRACES', kind: 'boolean', option: 'otel.traces' },
  { name: 'LOOPGUARD_BUSY_SAMPLE_HZ', kind: 'number', option: 'busySampleHz' },
  { name: 'LOOPGUARD_SHED', kind: 'boolean', option: 'shed' },
  { name: 'LOOPGUARD_THREADPOOL_PROBE', kind: 'boolean', option: 'threadPoolProbe' },
  { name: 'LOOPGUARD_THREADPOOL_PROBE_INTERVAL_MS', kind: 'number', option: 'threadPoolProbe.intervalMs' },
  { name: 'LOOPGUARD_BUDGET_MS', kind: 'number', option: '' },
  { name: 'LOOPGUARD_BUDGET_WARMUP', kind: 'number', option: '' },
  // Set by the first process of a budgeted test run for the processes it starts (src/budget/run.ts).
  { name: 'LOOPGUARD_BUDGET_RUN', kind: 'string', option: '' },
];

const BY_NAME = new Map(ENV_VARIABLES.map((v) => [v.name, v]));
/** Variables that switch something off rather than set an option value. */
const SWITCHES = new Set(['', 'prometheus', 'otel', 'threadPoolProbe']);

export interface EnvOptions {
  /** False when LOOPGUARD_ENABLED=false: the zero-code start does nothing. */
  readonly enabled: boolean;
  readonly options: LoopGuardOptions;
  /** LOOPGUARD_ON_STALL=log: write JSON lines to stderr (`logLine`). */
  readonly log: boolean;
  /** LOOPGUARD_BUDGET_MS: this process is part of a test run with a loop budget. */
  readonly budget?: BudgetRunConfig;
  /**
   * One message per variable that was unknown or invalid and left out (its
   * option keeps its default), and per valid value worth a word at start
   * (a metrics endpoint bound beyond loopback). The zero-code start emits each.
   */
  readonly warnings: readonly string[];
}

/** Hosts only this machine reaches; any other bind exposes the metrics endpoint, which has no authentication. */
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * Reads `LOOPGUARD_*` variables into guard options. An empty value counts as
 * unset (container templates often render unset variables as empty). Never
 * throws for a variable: an unknown name, a bad value or a conflict between
 * variables leaves that variable out, with a warning naming it.
 */
export function optionsFromEnv(env: Record<string, string | undefined>): EnvOptions {
  const warnings: string[] = [];
  const values = new Map<string, unknown>();
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('LOOPGUARD_') || raw === undefined || raw.trim() === '') continue;
    const variable = BY_NAME.get(name);
    if (variable === undefined) {
      warnings.push(`loopguard: unknown environment variable ${name} ignored (known: ${ENV_VARIABLES.map((v) => v.name).join(', ')})`);
      continue;
    }
    try {
      values.set(name, parse(variable, raw.trim()));
    } catch (err) {
      warnings.push(leftOut(err));
    }
  }
  // Each failed check names one variable: leave it out and build again (bounded: one variable less each time).
  for (;;) {
    try {
      const { notes, ...read } = fromValues(values, env);
      return { ...read, warnings: [...warnings, ...notes] };
    } catch (err) {
      const name = err instanceof InvalidOptionError ? err.option : undefined;
      if (name === undefined || !values.has(name)) throw err;
      warnings.push(leftOut(err));
      values.delete(name);
    }
  }
}

function leftOut(err: unknown): string {
  return `${(err as Error).message}; ignored, the default applies`;
}

function fromValues(values: Map<string, unknown>, env: Record<string, string | undefined>): Omit<EnvOptions, 'warnings'> & { notes: string[] } {
  const options: Record<string, unknown> = {};
  // Plain one-to-one options; the switches and nested options follow.
  for (const variable of ENV_VARIABLES) {
    if (SWITCHES.has(variable.option) || variable.option.includes('.')) continue;
    const value = values.get(variable.name);
    if (value !== undefined) options[variable.option] = value;
  }
  const prefix = values.get('LOOPGUARD_PROMETHEUS_PREFIX');
  const port = values.get('LOOPGUARD_METRICS_PORT');
  const host = values.get('LOOPGUARD_METRICS_HOST');
  if (values.get('LOOPGUARD_PROMETHEUS') === false) {
    if (prefix !== undefined) throw envError('LOOPGUARD_PROMETHEUS_PREFIX', 'unset when LOOPGUARD_PROMETHEUS=false', env.LOOPGUARD_PROMETHEUS_PREFIX);
    if (port !== undefined) throw envError('LOOPGUARD_METRICS_PORT', 'unset when LOOPGUARD_PROMETHEUS=false (the endpoint serves the Prometheus registry)', env.LOOPGUARD_METRICS_PORT);
    options.prometheus = false;
  } else if (prefix !== undefined) {
    options.prometheus = { prefix };
  }
  if (host !== undefined && port === undefined) throw envError('LOOPGUARD_METRICS_HOST', 'accompanied by LOOPGUARD_METRICS_PORT', env.LOOPGUARD_METRICS_HOST);
  if (port !== undefined) options.metricsServer = host === undefined ? { port } : { port, host };
  const notes: string[] = [];
  if (typeof host === 'string' && !LOOPBACK_HOSTS.has(host) && !host.startsWith('127.')) {
    notes.push(`loopguard: LOOPGUARD_METRICS_HOST=${host} serves /metrics beyond this machine, with no authentication: make sure only your Prometheus can reach it`);
  }
  const traces = values.get('LOOPGUARD_OTEL_TRACES');
  if (values.get('LOOPGUARD_OTEL') === false) {
    if (traces !== undefined) throw envError('LOOPGUARD_OTEL_TRACES', 'unset when LOOPGUARD_OTEL=false', env.LOOPGUARD_OTEL_TRACES);
    options.otel = false;
  } else if (traces !== undefined) {
    options.otel = { traces };
  }
  const probeMs = values.get('LOOPGUARD_THREADPOOL_PROBE_INTERVAL_MS');
  if (values.get('LOOPGUARD_THREADPOOL_PROBE') === false) {
    if (probeMs !== undefined) throw envError('LOOPGUARD_THREADPOOL_PROBE_INTERVAL_MS', 'unset when LOOPGUARD_THREADPOOL_PROBE=false', env.LOOPGUARD_THREADPOOL_PROBE_INTERVAL_MS);
    options.threadPoolProbe = false;
  } else if (probeMs !== undefined) {
    options.threadPoolProbe = { intervalMs: probeMs };
  }
  const budget = budgetFromEnv(values, env, options);
  // The same checks as in code, reported under the variable's name.
  try {
    resolveOptions(options as LoopGuardOptions);
  } catch (err) {
    if (!(err instanceof InvalidOptionError)) throw err;
    const variable = variableFor(err.option);
    if (variable === undefined) throw err;
    const expected = /must be (.*), received/.exec(err.message)?.[1] ?? 'valid';
    throw envError(variable.name, expected, env[variable.name]);
  }
  return { enabled: values.get('LOOPGUARD_ENABLED') !== false, options: options as LoopGuardOptions, log: options.onStall === logStall, ...(budget && { budget }), notes };
}

/**
 * A loop budget needs each request's exact own time (precise mode) and a
 * stack captured at the budget. Startup grace defaults to 0 here: in a short
 * test process, a second without captures would hide most culprits' functions.
 */
function budgetFromEnv(values: Map<string, unknown>, env: Record<string, string | undefined>, options: Record<string, unknown>): BudgetRunConfig | undefined {
  const budgetMs = values.get('LOOPGUARD_BUDGET_MS');
  if (budgetMs === undefined) {
    if (values.has('LOOPGUARD_BUDGET_WARMUP')) throw envError('LOOPGUARD_BUDGET_WARMUP', 'accompanied by LOOPGUARD_BUDGET_MS', env.LOOPGUARD_BUDGET_WARMUP);
    return undefined;
  }
  if (options.precise === false) throw envError('LOOPGUARD_PRECISE', 'unset or true with LOOPGUARD_BUDGET_MS (the budget measures exact own time)', env.LOOPGUARD_PRECISE);
  const names = { budgetMs: 'LOOPGUARD_BUDGET_MS', warmupRequests: 'LOOPGUARD_BUDGET_WARMUP', startupGraceMs: 'LOOPGUARD_STARTUP_GRACE_MS' };
  options.startupGraceMs ??= 0;
  let config;
  try {
    config = resolveBudget({ budgetMs, warmupRequests: values.get('LOOPGUARD_BUDGET_WARMUP'), startupGraceMs: options.startupGraceMs }, names);
  } catch (err) {
    const option = (err as InvalidOptionError).option;
    throw envError(option, /must be (.*), received/.exec((err as Error).message)?.[1] ?? 'valid', env[option]);
  }
  options.precise = true;
  options.captureAtMs = config.budgetMs;
  options.busySampleHz ??= TEST_RUN_QUIET.busySampleHz;
  if (!values.has('LOOPGUARD_THREADPOOL_PROBE')) options.threadPoolProbe ??= TEST_RUN_QUIET.threadPoolProbe;
  const runDir = values.get('LOOPGUARD_BUDGET_RUN') as string | undefined;
  return { ...config, runDir };
}

/** The variable behind an option path: itself, else its nearest relative (`metricsServer` → LOOPGUARD_METRICS_PORT). */
function variableFor(option: string): EnvVariable | undefined {
  const set = ENV_VARIABLES.filter((v) => v.option !== '');
  option = option.replace(/\[\d+\]$/, ''); // an item of a list option: the list's variable
  return (
    set.find((v) => v.option === option) ??
    set.find((v) => v.option.startsWith(`${option}.`)) ??
    set.find((v) => option.startsWith(`${v.option}.`))
  );
}

const DECIMAL = /^-?\d+(\.\d+)?$/;

function parse(variable: EnvVariable, raw: string): unknown {
  switch (variable.kind) {
    case 'list':
      // Comma-separated route templates (no RegExps from the environment); resolveOptions checks each.
      return raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
    case 'number': {
      // Decimal digits only: Number() would also take 0x64, 0b1, 1e2 and Infinity.
      if (!DECIMAL.test(raw)) throw envError(variable.name, 'a decimal number', raw);
      return Number(raw);
    }
    case 'boolean': {
      const value = raw.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(value)) return true;
      if (['false', '0', 'no', 'off'].includes(value)) return false;
      throw envError(variable.name, 'true or false (also 1/0, yes/no, on/off)', raw);
    }
    case 'onStall':
      if (raw === 'log') return logStall;
      if (raw === 'none') return undefined;
      throw envError(variable.name, '"log" (one JSON line per stall on stderr) or "none"', raw);
    default:
      return raw;
  }
}

/** LOOPGUARD_ON_STALL=log: one JSON object per line on stderr, for log shippers and people alike. */
export function logLine(msg: string, fields: object): void {
  process.stderr.write(`${JSON.stringify({ msg: `loopguard: ${msg}`, ...fields })}\n`);
}

function logStall(report: StallReport): void {
  logLine('event loop stalled', report);
}

/** An InvalidOptionError (same class and code as for options) whose message names the variable. */
function envError(name: string, expected: string, received: unknown): InvalidOptionError {
  const err = new InvalidOptionError(name, expected, received);
  err.message = err.message.replace(`option "${name}"`, `environment variable ${name}`);
  return err;
}
