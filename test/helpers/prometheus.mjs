// Starts a real Prometheus server (Debian package `prometheus`) on loopback
// with a temporary data dir, scraping the given targets every second.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { toolPath } from './system-tools.mjs';

export const PROMETHEUS_BIN = toolPath('prometheus');
export const PROMTOOL_BIN = toolPath('promtool');

export async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * @param {{ targets: string[], metricsPath?: string, scrapeIntervalS?: number, scrapeTimeoutMs?: number,
 *           ruleFiles?: string[], evaluationIntervalS?: number, job?: string }} options
 * targets are host:port strings on 127.0.0.1.
 */
export async function startPrometheus(options) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopguard-prom-'));
  const port = await freePort();
  const interval = options.scrapeIntervalS ?? 1;
  const config = [
    'global:',
    `  scrape_interval: ${interval}s`,
    `  scrape_timeout: ${options.scrapeTimeoutMs ?? 500}ms`,
    `  evaluation_interval: ${options.evaluationIntervalS ?? interval}s`,
    ...(options.ruleFiles?.length ? ['rule_files:', ...options.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`)] : []),
    'scrape_configs:',
    `  - job_name: ${JSON.stringify(options.job ?? 'loopguard')}`,
    `    metrics_path: ${JSON.stringify(options.metricsPath ?? '/metrics')}`,
    '    static_configs:',
    `      - targets: [${options.targets.map((t) => JSON.stringify(t)).join(', ')}]`,
    '',
  ].join('\n');
  const configFile = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(configFile, config);
  const child = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  // Prometheus has no readiness event for us to wait on: poll /-/ready, bounded.
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`prometheus exited: ${stderr}`);
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (i > 300) throw new Error(`prometheus not ready after 30 s: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    dir,
    /** Instant query; returns data.result. */
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = await res.json();
      if (body.status !== 'success') throw new Error(`query failed: ${expr}: ${JSON.stringify(body)}`);
      return body.data.result;
    },
    async get(pathAndQuery) {
      const res = await fetch(url + pathAndQuery);
      return res.json();
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls fn() (an external system's state) until it returns a truthy value; bounded. */
export async function eventually(fn, { timeoutMs = 30_000, everyMs = 250 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
