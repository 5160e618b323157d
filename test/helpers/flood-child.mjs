// Forked load generator for hostile traffic: random paths, random parameters,
// query strings, headers and bodies carrying a secret marker. Bounded in count.
import http from 'node:http';

const [base, countArg, concurrencyArg, marker] = process.argv.slice(2);
const total = Number(countArg);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(concurrencyArg) });
const { hostname, port } = new URL(base);
const rand = () => Math.random().toString(36).slice(2, 10);
const PATHS = [
  () => `/users/${rand()}`,
  () => `/teams/${rand()}/members/${rand()}`,
  () => `/static-${Math.floor(Math.random() * 60)}/${rand()}`,
  () => `/${marker}-${rand()}/${rand()}?token=${marker}&page=${rand()}`,
  () => `/../${rand()}/%2e%2e/${marker}`,
];
let sent = 0;
let done = 0;
// A socket error is no answer: counted apart, so a flood that was refused cannot pass as done.
let errors = 0;
const statuses = {};

function one() {
  if (sent >= total) return;
  sent++;
  const path = PATHS[sent % PATHS.length]();
  const method = sent % 7 === 0 ? 'POST' : 'GET';
  const req = http.request({ agent, hostname, port, path, method, headers: { 'x-api-key': marker, 'content-type': 'application/json' } }, (res) => {
    statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
    res.resume();
    res.on('end', next);
  });
  req.on('error', () => {
    errors++;
    next();
  });
  req.end(method === 'POST' ? JSON.stringify({ secret: marker }) : undefined);
}

function next() {
  done++;
  if (done === total) {
    process.send({ done, errors, statuses }, () => process.exit(0));
    return;
  }
  one();
}

for (let i = 0; i < Number(concurrencyArg); i++) one();
