// The demo service's business code, with the blocking mistakes real services
// make. Every one of them looks harmless in review and holds the event loop
// for a few hundred milliseconds per request on a modern machine.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Fake database: every query is a short asynchronous wait, as a real driver's would be. */
export const db = {
  async query(rows, latencyMs = 15) {
    await sleep(latencyMs + Math.random() * latencyMs);
    return rows;
  },
};

export const PRODUCTS = Array.from({ length: 40 }, (_, i) => ({
  id: i + 1,
  sku: `SKU-${String(i + 1).padStart(6, '0')}`,
  title: `Product ${i + 1}`,
  price: Math.round((5 + ((i * 37) % 95)) * 100) / 100,
}));

// 1. A synchronous password hash. pbkdf2Sync with the recommended 210 000
//    iterations is ~150 ms of native work that never leaves the loop
//    (crypto.pbkdf2 with a callback would run it on the thread pool).
export function hashPassword(password, salt) {
  return crypto.pbkdf2Sync(password, salt, 210_000, 64, 'sha512').toString('hex');
}

// The fix for 1: the same hash on libuv's thread pool. The loop stays free,
// but the pool has 4 threads for the whole process: 16 logins at once queue
// there, and so does every fs call and dns.lookup behind them.
export function hashPasswordAsync(password, salt) {
  return new Promise((resolve, reject) => {
    crypto.pbkdf2(password, salt, 210_000, 64, 'sha512', (err, key) => (err ? reject(err) : resolve(key.toString('hex'))));
  });
}

// 2. A big JSON.parse: the product feed is cached as text and re-parsed on
//    every request instead of once.
let feedText;
export function buildFeed(items = 120_000) {
  const rows = [];
  for (let i = 0; i < items; i++) {
    rows.push({ id: i, sku: `SKU-${String(i).padStart(6, '0')}`, title: 'Stainless steel water bottle 750 ml', price: 19.99, tags: ['outdoor', 'kitchen'], stock: { warehouse: 'AMS-1', qty: i % 200 } });
  }
  feedText = JSON.stringify(rows);
  return feedText.length;
}
export function readFeed(limit) {
  const feed = JSON.parse(feedText);
  return feed.filter((item) => item.stock.qty > 0).slice(0, limit);
}

// 3. A backtracking regular expression: the nested quantifier makes a long
//    input without an '@' take exponential time.
const EMAIL = /^([a-zA-Z0-9_.-]+)+@[a-zA-Z0-9-]+\.[a-z]{2,}$/;
export function isValidEmail(text) {
  return EMAIL.test(text);
}

// 4. CPU work after an await: the query is asynchronous, the aggregation that
//    follows is not, and it runs inside the request's own callback.
let ordersTable = [];
const EUR_PER_USD = 0.92;
export function buildOrders(n = 500_000) {
  ordersTable = new Array(n);
  for (let i = 0; i < n; i++) ordersTable[i] = { day: (i % 31) + 1, amount: ((i * 7919) % 10_000) / 100 };
}
export async function buildMonthlyReport() {
  const orders = await db.query(ordersTable, 10);
  return summariseOrders(orders);
}
// One pass over every order for each day of the month: fine with the 300
// orders of the test database, 15 million iterations in production.
function summariseOrders(orders) {
  const days = [];
  for (let day = 1; day <= 31; day++) {
    let total = 0;
    let count = 0;
    for (let i = 0; i < orders.length; i++) {
      const order = orders[i];
      if (order.day !== day) continue;
      total += Math.round(order.amount * EUR_PER_USD * 100) / 100;
      count++;
    }
    days.push({ day, orders: count, revenue: Math.round(total) });
  }
  // ...and the CSV attachment is built in memory, one formatted line per order.
  const csv = new Array(orders.length);
  for (let i = 0; i < orders.length; i++) csv[i] = `${orders[i].day},${orders[i].amount.toFixed(2)}`;
  return { days, csvBytes: csv.join('\n').length };
}

// 5. A synchronous file read: the invoice template is read from disk on
//    every request ("so edits show up without a restart").
let templatePath;
export function writeInvoiceTemplate(path, rows = 500_000) {
  templatePath = path;
  fs.writeFileSync(path, '<tr><td>{{sku}}</td><td>{{title}}</td><td>{{qty}}</td><td>{{price}}</td></tr>\n'.repeat(rows));
}
export function loadInvoiceTemplate() {
  const source = fs.readFileSync(templatePath, 'utf8');
  return source.split('\n').filter((line) => line.trim() !== '').length;
}
