// Imported first by a *.prometheus-io.test.mjs twin: the test file it imports
// next (and every child it forks) runs through @prometheus-io/client.
process.env.LOOPGUARD_TEST_PROM_CLIENT = '@prometheus-io/client';
