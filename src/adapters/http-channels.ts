/**
 * node:http's diagnostics channels, subscribed once for the process:
 * - 'http.server.request.start' is published after `res` is created and just
 *   before the server emits 'request'. Opening the record there and entering
 *   it with `enterWith` (as Node's own tests do) puts the framework's whole
 *   handling of the request in its context, and anything written on `res`
 *   is written before Express swaps its prototype (no new hidden class).
 * - 'http.server.response.finish' is published for every finished response:
 *   no listener per response.
 * Both publish only while someone subscribes; a subscriber that throws would
 * surface in the app as an uncaught exception, so none does.
 */
import dc from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { finishResponse, type TrackedResponse } from './finish';
import { HTTP_SERVER_REQUEST_START, HTTP_SERVER_RESPONSE_FINISH } from '../contract/channels';

/** Opens and enters a request seen on the start channel. */
export interface RequestStarter {
  start(req: IncomingMessage, res: ServerResponse, socket: Socket): void;
  /** Its guard is closed: another may take the server over. */
  readonly closed: boolean;
}

interface ChannelMessage {
  request: IncomingMessage;
  response: ServerResponse;
  socket: Socket;
  server: object;
}

const START = HTTP_SERVER_REQUEST_START;
const FINISH = HTTP_SERVER_RESPONSE_FINISH;

/** Request listeners (apps) whose requests open at the channel, whatever server serves them. */
const byListener = new WeakMap<object, RequestStarter>();
/** Servers claimed directly (Fastify's, whose request listener is its own router). */
const byClaimedServer = new WeakMap<object, RequestStarter>();
/** Each server's starter, resolved from its 'request' listeners once per registration generation. */
const byServer = new WeakMap<object, { starter: RequestStarter | undefined; generation: number }>();
let generation = 0;
/** The zero-code start: every server of the process. */
let everyServer: RequestStarter | undefined;
let startSubscribed = false;
let finishSubscribed = false;
/**
 * The last server a request came to and its starter: most processes serve
 * from one server, and a pointer comparison per request is cheaper than a
 * WeakMap lookup. Held strongly until the next registration, or until a
 * request finds its starter closed.
 */
let lastServer: object | undefined;
let lastStarter: RequestStarter | undefined;
let lastGeneration = -1;

function starterOf(server: object): RequestStarter | undefined {
  const claimed = byClaimedServer.get(server);
  if (claimed !== undefined && !claimed.closed) return claimed;
  const known = byServer.get(server);
  if (known !== undefined && known.generation === generation) return known.starter;
  let starter: RequestStarter | undefined;
  const listeners = typeof (server as { listeners?: unknown }).listeners === 'function' ? (server as { listeners(e: string): unknown[] }).listeners('request') : [];
  for (const listener of listeners) {
    const found = typeof listener === 'function' ? byListener.get(listener) : undefined;
    if (found !== undefined && !found.closed) starter = found;
  }
  byServer.set(server, { starter, generation });
  return starter;
}

function onStart(message: unknown): void {
  try {
    const m = message as ChannelMessage;
    const server = m.server;
    let starter: RequestStarter | undefined;
    if (server === lastServer && lastGeneration === generation) starter = lastStarter;
    else {
      starter = starterOf(server) ?? (everyServer?.closed === false ? everyServer : undefined);
      lastServer = server;
      lastStarter = starter;
      lastGeneration = generation;
    }
    if (starter !== undefined) starter.start(m.request, m.response, m.socket);
  } catch {
    // The starter reports its own failures; nothing may reach the app from here.
  }
}

/**
 * A starter was closed, or its guard's: the next request of every server
 * looks its starter up again (another guard may take the server over).
 */
export function startersChanged(): void {
  generation++;
  lastServer = undefined;
  lastStarter = undefined;
}

function onFinish(message: unknown): void {
  finishResponse((message as ChannelMessage).response as TrackedResponse);
}

function subscribeStart(): void {
  if (startSubscribed) return;
  startSubscribed = true;
  dc.subscribe(START, onStart);
}

/** The finish channel, for every adapter that keeps records on node:http responses. */
export function subscribeFinish(): void {
  if (finishSubscribed) return;
  finishSubscribed = true;
  dc.subscribe(FINISH, onFinish);
}

/**
 * From now on, requests that `app` (a server's 'request' listener) serves are
 * opened by `starter` at the start channel, on every server it listens on.
 * The first live starter of an app keeps it (loopguard mounted twice counts
 * a request once).
 */
export function startForApp(app: unknown, starter: RequestStarter): void {
  if (typeof app === 'function') claim(byListener, app, starter);
}

/** Requests to `server` are opened by `starter` at the start channel, whatever its request listener. */
export function startForServer(server: unknown, starter: RequestStarter): void {
  if (server !== null && typeof server === 'object') claim(byClaimedServer, server, starter);
}

/** `key`'s requests are opened by `starter`, unless a live starter already has them. */
function claim(starters: WeakMap<object, RequestStarter>, key: object, starter: RequestStarter): void {
  const current = starters.get(key);
  if (current !== undefined && !current.closed) return;
  starters.set(key, starter);
  startersChanged();
  subscribeFinish();
  subscribeStart();
}

/** The zero-code start: requests to every server are opened by `starter` (servers an adapter claimed keep theirs). */
export function startEveryServer(starter: RequestStarter): void {
  if (everyServer === undefined || everyServer.closed) everyServer = starter;
  startersChanged();
  subscribeFinish();
  subscribeStart();
}
