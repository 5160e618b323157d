// The size of the "big JSON body" in the attribution scenarios, per Node line.
// The body must parse well over the 100 ms threshold, yet not allocate so
// much that GC takes most of the stall: the stall is then rightly gc's, not
// the route's. Measured on these 2-core VMs (2026-12-01): Node 24 parses
// 24 MB in ~115 ms (too close to the threshold), so 22+ send 48 MB; Node 20
// parses 48 MB with GC over half the stall in 3 of 3 runs of the CI suite
// (two scenario files in one run), and 24 MB passed there for two sessions.
const major = Number(process.versions.node.split('.')[0]);

export const BIG_JSON_BYTES = (major <= 20 ? 24 : 48) * 1024 * 1024;
