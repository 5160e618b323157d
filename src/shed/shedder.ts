import { performance } from 'node:perf_hooks';
import { ROUTE_UNMATCHED } from '../catalogue';
import type { ShedCounter } from '../collectors/read-model';
import { LoopGuardError } from '../errors';
import { busyBlame, type BusyShareLike } from './busy-blame';
import { RecentBlame, selectCulprits, type Blame } from './culprits';
import { decision, type PressureReason, type ShedChange, type ShedDecision, type ShedState } from './decision';
import type { ResolvedShedOptions } from './options';
import { PressureMachine } from './pressure';
import { shedAnswers, writeNode, type ShedAnswer, type ShedWriter } from './respond';
import { compileList, compileTemplate } from './route-match';
import { ServedHistory, type ServedSource } from './served';
import { PressureSignals } from './signals';

/** The guard as the shedder sees it. */
export interface ShedHost {
  readonly loop: { readonly utilization: number };
  /** Per-route served counters, to price each culprit's requests. */
  readonly routes: ServedSource;
  /** Exported as `requests_shed_total{route,reason}`. */
  readonly shedTotals: Map<string, ShedCounter>;
  reportError(err: unknown): void;
  /** Publishes a change of state or culprits (the guard's `'shed'` event). */
  shedChanged(change: ShedChange): void;
  /** Sampled busy time's recent shares, for `rankByBusyTime`; absent when sampling is off. */
  readonly busy?: { shares(): { shares: readonly BusyShareLike[] } } | undefined;
}

export type { ShedCounter };

/** Shedding as it stands, for `snapshot()` and the health handler. */
export interface ShedStatus {
  state: ShedState;
  /** Epoch ms the state was entered; null while off since start. */
  since: number | null;
  reason: PressureReason | null;
  culprits: { route: string; method: string }[];
  /** The cooldown in force, ms (longer after quick re-entries). */
  cooldownMs: number;
  /** Worst heartbeat lateness in the recent window, ms. */
  eventLoopDelayMs: number;
  /** Requests shed since start. */
  shedTotal: number;
}

interface CulpritRule {
  readonly route: string;
  readonly method: string;
  readonly matcher: RegExp | null;
  readonly decision: ShedDecision;
}

/** Pressure is re-read this often from the heartbeat (and at once on a late beat or a new stall). */
const EVAL_INTERVAL_MS = 250;

/**
 * Load shedding: reads pressure from the heartbeat, ranks culprits from
 * delivered stalls, runs the state machine, and answers per request whether
 * to shed. Adapters test `active` (one boolean) and call `check()` only when
 * it is set, so a calm process pays nothing per request.
 */
export class Shedder {
  /** True while some requests are being shed. */
  active = false;
  private readonly machine: PressureMachine;
  private readonly signals: PressureSignals;
  private readonly blame = new RecentBlame();
  private readonly served: ServedHistory;
  private blameSeen = -1;
  private rules: readonly CulpritRule[] = [];
  private readonly exempt: { test(url: string): boolean } | null;
  private readonly answers: Readonly<Record<ShedDecision['reason'], ShedAnswer>>;
  private readonly allDecisions: Record<PressureReason, ShedDecision>;
  private allDecision: ShedDecision | null = null;
  /** One decision per culprit label, reused across episodes, so both maps stay as small as the route table. */
  private readonly culpritDecisions = new Map<string, ShedDecision>();
  private readonly counters = new Map<ShedDecision, ShedCounter>();
  private lastEvalAt = -Infinity;
  private enteredAt: number | null = null;

  constructor(
    readonly options: ResolvedShedOptions,
    private readonly host: ShedHost,
  ) {
    this.machine = new PressureMachine(options);
    this.signals = new PressureSignals(options, host.loop);
    this.served = new ServedHistory(host.routes, options.windowMs / 2);
    this.exempt = compileList(options.exempt);
    this.answers = shedAnswers(options.retryAfterSeconds);
    const all = (reason: PressureReason): ShedDecision => decision(ROUTE_UNMATCHED, reason, options.retryAfterSeconds);
    this.allDecisions = { delay: all('delay'), utilization: all('utilization'), heap: all('heap') };
  }

  get state(): ShedState {
    return this.machine.state;
  }

  /** Every heartbeat: how late it ran, ms. */
  onBeat(lateMs: number, now = performance.now()): void {
    if (this.signals.beat(now, lateMs) || now - this.lastEvalAt >= EVAL_INTERVAL_MS) this.evaluate(now);
  }

  /** Every delivered stall blamed on a route (by its label); other stalls are not anyone's to shed. */
  onStall(routeLabel: string, method: string, durationMs: number, now = performance.now()): void {
    try {
      this.blame.add(now, routeLabel, method, durationMs);
      // Under pressure, name the culprit now rather than at the next reading.
      if (this.machine.state !== 'off') this.evaluate(now);
    } catch (err) {
      this.host.reportError(err);
    }
  }

  /**
   * Whether to shed this request: null (serve it) or the decision to answer
   * with. `url` is the request URL as received; its query string is ignored.
   */
  check(method: string, url: string): ShedDecision | null {
    if (!this.active) return null;
    if (this.exempt !== null && this.exempt.test(url)) return null;
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      // Express answers HEAD with the GET route.
      if ((rule.method === method || (method === 'HEAD' && rule.method === 'GET')) && rule.matcher !== null && rule.matcher.test(url)) {
        return rule.decision;
      }
    }
    return this.allDecision;
  }

  /**
   * Answers a shed request: `onShed(req, res, decision)` if given, else the
   * 503 with `Retry-After` through `write(target)` (a Node response by
   * default; adapters pass their framework's reply). Returns false when
   * `onShed` let the request through. Never throws.
   */
  respond(req: unknown, res: unknown, shed: ShedDecision, target: unknown = res, write: ShedWriter<any> = writeNode): boolean {
    const onShed = this.options.onShed;
    try {
      if (onShed !== undefined) {
        try {
          if (onShed(req, res, shed) === false) return false;
        } catch (err) {
          this.host.reportError(new LoopGuardError('LOOPGUARD_CALLBACK_FAILED', `shed.onShed threw: ${(err as Error)?.message ?? err}`, { cause: err }));
          write(target, this.answers[shed.reason]);
        }
      } else {
        write(target, this.answers[shed.reason]);
      }
    } catch (err) {
      this.host.reportError(err);
    }
    this.count(shed);
    return true;
  }

  /**
   * check() then respond(), for adapters: true when the request was answered
   * here and must not go on. Call only while `active`. Never throws.
   */
  shed(req: unknown, res: unknown, method: string, url: string, target: unknown = res, write: ShedWriter<any> = writeNode): boolean {
    let decision: ShedDecision | null;
    try {
      decision = this.check(method, url);
    } catch (err) {
      this.host.reportError(err);
      return false;
    }
    return decision !== null && this.respond(req, res, decision, target, write);
  }

  status(now = performance.now()): ShedStatus {
    let shedTotal = 0;
    for (const c of this.counters.values()) shedTotal += c.count;
    return {
      state: this.machine.state,
      since: this.enteredAt,
      reason: this.machine.reason,
      culprits: this.rules.map((r) => ({ route: r.route, method: r.method })),
      cooldownMs: this.machine.cooldownMs,
      eventLoopDelayMs: Math.round(this.signals.recentDelayMs(now) * 10) / 10,
      shedTotal,
    };
  }

  /** The route that caused the most blocked time in the recent window. */
  topCulprit(now = performance.now()): Blame | null {
    return this.blame.totals(now, this.options.windowMs)[0] ?? null;
  }

  close(): void {
    this.machine.reset(performance.now());
    this.active = false;
    this.rules = [];
    this.allDecision = null;
  }

  private evaluate(now: number): void {
    this.lastEvalAt = now;
    this.served.tick(now);
    const reading = this.signals.read(now);
    const added = this.machine.state !== 'off' || reading.over !== null ? this.refreshCulprits(now) : false;
    const previous = this.machine.state;
    // A culprit whose template cannot be matched by path cannot be shed: it does not count.
    let sheddable = 0;
    for (const r of this.rules) if (r.matcher !== null) sheddable++;
    const changed = this.machine.step(now, reading, sheddable, added);
    const state = this.machine.state;
    if (changed) {
      this.enteredAt = performance.timeOrigin + this.machine.since;
      if (state === 'off') {
        this.rules = [];
        this.blameSeen = -1;
      }
      this.allDecision = state === 'all' ? this.allDecisions[this.machine.reason ?? 'delay'] : null;
      this.active = state === 'culprits' || state === 'all';
    }
    if (changed || (added && state !== 'off')) this.announce(previous);
  }

  /**
   * Adds newly ranked culprits. The set only grows while shedding: a shed
   * route stops stalling, and dropping it as its blame ages out of the
   * window would let it straight back in under pressure.
   */
  private refreshCulprits(now: number): boolean {
    const busyRanked = this.options.rankByBusyTime && this.host.busy !== undefined && this.blame.totals(now, this.options.windowMs).length === 0;
    // Busy shares change without a new stall: re-ranked at every reading while they are what counts.
    if (this.blame.version === this.blameSeen && !busyRanked) return false;
    this.blameSeen = this.blame.version;
    const max = this.options.maxCulprits;
    let rules = this.rules;
    const totals = busyRanked
      ? busyBlame(this.host.busy!.shares().shares, this.host.loop.utilization * this.options.windowMs)
      : this.blame.totals(now, this.options.windowMs);
    const minCostMs = busyRanked ? this.options.minCulpritCostMs / 10 : this.options.minCulpritCostMs;
    for (const pick of selectCulprits(totals, max, minCostMs, this.served.reader())) {
      if (rules.length >= max) break;
      if (rules.some((r) => r.route === pick.route && r.method === pick.method)) continue;
      // A new array: check() holds no reference to a list being changed.
      rules = [...rules, { route: pick.route, method: pick.method, matcher: compileTemplate(pick.route), decision: this.culpritDecision(pick.route) }];
    }
    const added = rules !== this.rules;
    this.rules = rules;
    return added;
  }

  private culpritDecision(route: string): ShedDecision {
    let shed = this.culpritDecisions.get(route);
    if (shed === undefined) {
      shed = decision(route, 'culprit', this.options.retryAfterSeconds);
      this.culpritDecisions.set(route, shed);
    }
    return shed;
  }

  private count(shed: ShedDecision): void {
    let counter = this.counters.get(shed);
    if (counter === undefined) {
      // Keyed by label values, so a route shed again in a later episode continues its series.
      const key = `${shed.route}\u0000${shed.reason}`;
      counter = this.host.shedTotals.get(key);
      if (counter === undefined) {
        counter = { route: shed.route, reason: shed.reason, count: 0 };
        this.host.shedTotals.set(key, counter);
      }
      this.counters.set(shed, counter);
    }
    counter.count++;
  }

  private announce(previous: ShedState): void {
    this.host.shedChanged(
      Object.freeze({
        state: this.machine.state,
        previous,
        reason: this.machine.reason,
        culprits: this.rules.map((r) => ({ route: r.route, method: r.method })),
        at: Date.now(),
      }),
    );
  }
}
