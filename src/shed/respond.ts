import type { ServerResponse } from 'node:http';
import type { ShedReason } from './decision';

/** The 503 a shed request gets: built once per reason, reused for every request. */
export interface ShedAnswer {
  readonly status: 503;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** Sends a shed answer through one framework's response API. */
export type ShedWriter<T> = (target: T, answer: ShedAnswer) => void;

/** The parts of a Node response the default writer needs (Express, node:http). */
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
export function shedAnswers(retryAfterSeconds: number): Readonly<Record<ShedReason, ShedAnswer>> {
  const answers = {} as Record<ShedReason, ShedAnswer>;
  for (const reason of Object.keys(REASON_TEXT) as ShedReason[]) {
    const body = Buffer.from(
      JSON.stringify({ error: 'Service Unavailable', message: `Load shed: ${REASON_TEXT[reason]}.`, reason, retryAfterSeconds }),
    );
    const headers = Object.freeze({
      'retry-after': String(retryAfterSeconds),
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(body.length),
      'cache-control': 'no-store',
    });
    answers[reason] = Object.freeze({ status: 503, headers, body });
  }
  return Object.freeze(answers);
}

/** Node `ServerResponse` (Express, node:http). Leaves alone a response someone already started. */
export const writeNode: ShedWriter<ShedResponseTarget> = (res, answer) => {
  if (res.headersSent) {
    if (res.writableEnded === false) res.end();
    return;
  }
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
};

/** Fastify `reply`, from a hook that then does not call `done()`: Fastify's own hooks and logging still see it. */
export const writeFastify: ShedWriter<{ sent?: boolean; code(status: number): unknown; headers(h: object): unknown; send(body: Buffer): unknown }> = (
  reply,
  answer,
) => {
  if (reply.sent === true) return;
  reply.code(answer.status);
  reply.headers(answer.headers);
  reply.send(answer.body);
};

/** Koa `ctx`, from a middleware that then does not call `next()`: Koa sends it, upstream middleware sees it. */
export const writeKoa: ShedWriter<{ status: number; set(h: Record<string, string>): void; body: unknown }> = (ctx, answer) => {
  ctx.status = answer.status;
  // Headers before the body: Koa keeps a content-type already set.
  ctx.set(answer.headers as Record<string, string>);
  ctx.body = answer.body;
};
