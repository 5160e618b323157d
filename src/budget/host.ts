/**
 * The one budget host of a process: a guard in precise mode watching every
 * http server, with its recorder. The zero-code start provides it under
 * LOOPGUARD_BUDGET_MS; otherwise the first withinLoopBudget creates one.
 *
 * Found through a diagnostics channel, not a global: realms with copies of
 * loopguard of their own (Jest's test files) share the process's
 * diagnostics channels (a core module's state).
 */
import dc from 'node:diagnostics_channel';
import { createLoopGuard, type LoopGuard } from '../create-guard';
import { enablePrecise } from '../core/precise';
import { linkFastify } from '../routes/zero-code';
import { watchHttpServers } from '../register/http-servers';
import { TEST_RUN_QUIET, type BudgetConfig } from './budget-config';
import { BudgetRecorder } from './recorder';
import { kRegistered } from '../contract/symbols';
import { BUDGET_HOST } from '../contract/channels';

const RENDEZVOUS = BUDGET_HOST;

export interface BudgetHost {
  readonly recorder: BudgetRecorder;
}

interface HostRequest {
  host?: BudgetHost;
}

export function findHost(): BudgetHost | undefined {
  const channel = dc.channel(RENDEZVOUS);
  if (!channel.hasSubscribers) return undefined;
  const request: HostRequest = {};
  channel.publish(request);
  return request.host;
}

/** Makes `recorder` the process's budget host; returns it and how to withdraw it. */
export function offerHost(recorder: BudgetRecorder): BudgetHost & { withdraw(): void } {
  const host: BudgetHost = { recorder };
  const offer = (message: unknown): void => {
    (message as HostRequest).host ??= host;
  };
  dc.subscribe(RENDEZVOUS, offer);
  return { ...host, withdraw: () => dc.unsubscribe(RENDEZVOUS, offer) };
}

/**
 * A host for withinLoopBudget when no zero-code start offered one: the
 * zero-code start's guard if it runs without a budget (it already tracks every
 * request), else a guard of its own, silent (no metrics), until the loop runs dry.
 */
export function createHost(budgetMs: number): BudgetHost {
  const config: BudgetConfig = { budgetMs, warmupRequests: 0, startupGraceMs: 0 };
  const zeroCode = (globalThis as { [kRegistered]?: LoopGuard | null })[kRegistered];
  if (zeroCode !== undefined && zeroCode !== null && !zeroCode.isClosed) {
    // Same realm, same request store: the precise hook times that guard's records too.
    if (!zeroCode.options.precise) enablePrecise();
    return offerHost(new BudgetRecorder(zeroCode, config));
  }
  const own = createLoopGuard({ precise: true, captureAtMs: budgetMs, startupGraceMs: 0, prometheus: false, otel: false, ...TEST_RUN_QUIET });
  watchHttpServers(own);
  linkFastify((err) => own.reportError(err));
  const host = offerHost(new BudgetRecorder(own, config));
  // Closed as the loop runs dry, so the process exits with no watchdog thread
  // left (see Watchdog.close); a later withinLoopBudget creates a new host.
  process.once('beforeExit', () => {
    host.withdraw();
    own.close();
  });
  return host;
}
