// Which Node line ran the suite: CI runs it once per production line and sets
// LOOPGUARD_EXPECT_NODE_MAJOR, so a PATH mix-up that quietly tested the
// machine's own Node fails here instead of passing on the wrong line.
import { test } from 'node:test';
import assert from 'node:assert/strict';

test('the suite runs on the Node line CI asked for', (t) => {
  t.diagnostic(`node ${process.version}`);
  const expected = process.env.LOOPGUARD_EXPECT_NODE_MAJOR;
  if (expected === undefined) return;
  assert.equal(process.versions.node.split('.')[0], expected, `asked for Node ${expected}, running ${process.version}`);
});
