import type { ServerResponse } from 'node:http';
import type { ShedDecision, ShedReason } from './decision';

/** The parts of a Node response a shed answer needs (Express, node:http, Fastify's `reply.raw`, Koa's `ctx.res`). */
export type ShedResponseTarget = Pick<ServerResponse, 'writeHead' | 'end' | 'headersSent'> & { writableEnded?: boolean };

const REASON_TEXT: Record<ShedReason, string> = {
  culprit: 'this route is blocking the event loop',
  delay: 'the event loop is delayed',
  utilization: 'the event loop is saturated',
  heap: 'memory is under pressure',
};

/**
 * Pre-encoded 503 answers, one per reason: a shed request must cost as little
 * as possible, since shedding happens exactly when the process is struggling.
 */
export class ShedResponses {
  private readonly bodies = new Map<ShedReason, Buffer>();
  private readonly retryAfter: string;

  constructor(retryAfterSeconds: number) {
    this.retryAfter = String(retryAfterSeconds);
    for (const reason of Object.keys(REASON_TEXT) as ShedReason[]) {
      const body = { error: 'Service Unavailable', message: `Load shed: ${REASON_TEXT[reason]}.`, reason, retryAfterSeconds };
      this.bodies.set(reason, Buffer.from(JSON.stringify(body)));
    }
  }

  /** Writes the 503; does nothing to a response someone already started. */
  write(res: ShedResponseTarget, decision: ShedDecision): void {
    if (res.headersSent) {
      if (res.writableEnded === false) res.end();
      return;
    }
    const body = this.bodies.get(decision.reason)!;
    res.writeHead(503, {
      'retry-after': this.retryAfter,
      'content-type': 'application/json; charset=utf-8',
      'content-length': body.length,
      'cache-control': 'no-store',
    });
    res.end(body);
  }
}
