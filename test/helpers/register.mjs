// The zero-code start's child processes: an environment of their own.

/** The environment without any LOOPGUARD_* the runner may have set. */
export function cleanEnv(extra) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LOOPGUARD_')));
  return { ...env, ...extra };
}
