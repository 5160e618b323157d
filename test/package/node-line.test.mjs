// Which Node line ran the suite: CI runs it once per production line and sets
// LOOPGUARD_EXPECT_NODE_MAJOR, so a PATH mix-up that quietly tested the
// machine's own Node fails here instead of passing on the wrong line. Without
// the variable (`npm test` on the machine's Node) the line asked for is the
// `node` that PATH finds, which npm and npx also run: the test always compares.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

test('the suite runs on the Node line CI asked for, or else on the node PATH finds', (t) => {
  t.diagnostic(`node ${process.version}`);
  const fromEnv = process.env.LOOPGUARD_EXPECT_NODE_MAJOR;
  const expected = fromEnv !== undefined && fromEnv !== '' ? fromEnv : execFileSync('node', ['-p', "process.versions.node.split('.')[0]"], { encoding: 'utf8' }).trim();
  assert.match(expected, /^\d+$/, `a Node major to compare with: ${JSON.stringify(expected)}`);
  assert.equal(process.versions.node.split('.')[0], expected, `asked for Node ${expected} (${fromEnv ? 'LOOPGUARD_EXPECT_NODE_MAJOR' : 'node on PATH'}), running ${process.version}`);
});
