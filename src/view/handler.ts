import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAbsolute } from 'node:path';
import type { GuardContext } from '../collectors/read-model';
import type { LoopGuardSnapshot } from '../collectors/snapshot';
import { InvalidOptionError, LoopGuardError } from '../errors';
import { knownKeys, optionalFunction, plainObject } from '../validate';
import { LoopHistory } from './history';
import { PAGE_CSP, PAGE_ETAG, PAGE_HTML } from './page';
import { toViewSnapshot } from './view-model';

export interface DashboardOptions {
  /**
   * Decides who may see the page and its JSON (it shows route names, stack
   * frames and source file names). Return false (or a promise of false) for
   * a 403. @default loopback clients only (127.0.0.0/8, ::1): anyone else gets a 403. Behind a
   * proxy on the same host every client looks like loopback, so give a check of your own there.
   */
  authorize?: (req: IncomingMessage) => boolean | Promise<boolean>;
  /** Stack file paths are shown relative to this directory; paths outside it are shortened. @default process.cwd() */
  root?: string;
}

/** `(req, res, next?)`: an Express/Connect middleware and a plain `node:http` handler at once. */
export type DashboardHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;

/** The JSON is rebuilt at most this often, however many pages poll it (each polls every second or so). */
const SNAPSHOT_CACHE_MS = 1000;

/** Seconds of per-second history the chart can show. */
const HISTORY_SECONDS = 300;

/** The live page's chart history as a collector: one per guard, however many mounts (the composition keeps it). */
export function attachHistory(context: GuardContext): LoopHistory {
  return new LoopHistory(context.model, HISTORY_SECONDS).start();
}

/** What the page serves from. */
export interface DashboardSource {
  snapshot(): LoopGuardSnapshot;
  reportError(err: unknown): void;
}

/**
 * The built-in live page. Mount it where you choose, for example
 * `app.use('/loopguard', guard.dashboardHandler())`: the page is served at
 * the mount path and polls `snapshot.json` beside it.
 */
export function createDashboardHandler(guard: DashboardSource, points: LoopHistory, options: DashboardOptions = {}): DashboardHandler {
  const { authorize, root } = resolveDashboardOptions(options);
  let cachedJson: { body: string; at: number } | undefined;
  const snapshotJson = (): string => {
    const now = performance.now();
    if (cachedJson === undefined || now - cachedJson.at >= SNAPSHOT_CACHE_MS) {
      cachedJson = { body: JSON.stringify(toViewSnapshot(guard.snapshot(), points.all(), points.window(), root)), at: now };
    }
    return cachedJson.body;
  };

  function serve(req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void {
    const path = pathOf(req);
    const wantsJson = path.endsWith('/snapshot.json');
    // Mounted by Express (a baseUrl is set, or the path was stripped): anything but the page and its JSON is someone else's.
    const baseUrl = (req as { baseUrl?: unknown }).baseUrl;
    const mounted = typeof baseUrl === 'string' && baseUrl !== '';
    if (mounted && !wantsJson && path !== '/' && path !== '') {
      if (next) return next();
      return send(res, 404, 'text/plain; charset=utf-8', 'Not found');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'Method not allowed');
    }
    if (wantsJson) {
      const body = snapshotJson();
      res.setHeader('Cache-Control', 'no-store');
      return send(res, 200, 'application/json; charset=utf-8', body, req.method === 'HEAD');
    }
    res.setHeader('Content-Security-Policy', PAGE_CSP);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('ETag', PAGE_ETAG);
    if (req.headers['if-none-match'] === PAGE_ETAG) return send(res, 304, undefined, '');
    send(res, 200, 'text/html; charset=utf-8', PAGE_HTML, req.method === 'HEAD');
  }

  function fail(res: ServerResponse, err: unknown): void {
    guard.reportError(new LoopGuardError('LOOPGUARD_CALLBACK_FAILED', `loopguard live page: ${(err as Error)?.message ?? err}`, { cause: err }));
    if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'loopguard live page failed');
    else res.destroy();
  }

  return function loopGuardDashboard(req, res, next) {
    const denied = (err: unknown): void => {
      guard.reportError(new LoopGuardError('LOOPGUARD_CALLBACK_FAILED', `dashboard authorize failed: ${(err as Error)?.message ?? err}`, { cause: err }));
      forbid(res);
    };
    try {
      if (authorize === undefined) return isLoopback(req.socket?.remoteAddress) ? serve(req, res, next) : forbid(res);
      let verdict: boolean | Promise<boolean>;
      try {
        verdict = authorize(req);
      } catch (err) {
        // Fail closed: a broken check shows nothing.
        return denied(err);
      }
      if (verdict === true) return serve(req, res, next);
      if (verdict === false || typeof (verdict as Promise<boolean>)?.then !== 'function') return forbid(res);
      (verdict as Promise<boolean>).then(
        (ok) => {
          try {
            if (ok === true) serve(req, res, next);
            else forbid(res);
          } catch (err) {
            fail(res, err);
          }
        },
        denied,
      );
    } catch (err) {
      fail(res, err);
    }
  };
}

function resolveDashboardOptions(options: DashboardOptions): { authorize: DashboardOptions['authorize']; root: string } {
  plainObject('dashboard options', options);
  knownKeys('dashboard', options, ['authorize', 'root']);
  optionalFunction('dashboard.authorize', options.authorize, 'a function (req) => boolean');
  const root = options.root ?? process.cwd();
  if (typeof root !== 'string' || !isAbsolute(root)) throw new InvalidOptionError('dashboard.root', 'an absolute directory path', root);
  return { authorize: options.authorize, root: root.replace(/[\\/]+$/, '') || root };
}

/** A client on this host: 127.0.0.0/8, ::1, or either mapped into IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (typeof address !== 'string') return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

/** The request path without its query string (which is never read). */
function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q >= 0 ? url.slice(0, q) : url;
}

function forbid(res: ServerResponse): void {
  send(res, 403, 'text/plain; charset=utf-8', 'Forbidden');
}

function send(res: ServerResponse, status: number, type: string | undefined, body: string | Buffer, headOnly = false): void {
  res.statusCode = status;
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  if (type) res.setHeader('Content-Type', type);
  if (status !== 304) res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(status === 304 || headOnly ? undefined : body);
}
