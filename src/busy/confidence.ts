/**
 * Wilson score interval for a proportion k/n: well behaved for small counts
 * and for shares near 0 or 1, where the normal approximation is not (it can
 * give a negative lower bound). z = 1.96 gives 95 %.
 */
export function wilsonInterval(k: number, n: number, z = 1.96): [low: number, high: number] {
  if (!(n > 0)) return [0, 1];
  const p = Math.min(1, Math.max(0, k / n));
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}
