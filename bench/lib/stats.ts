/**
 * Summary statistics shared by the benches, so every table computes its percentiles the same way.
 */

/**
 * The p-th percentile (nearest rank, rounded down) of samples already sorted ascending.
 * @param sorted - ascending samples (a typed array sorts numerically with `.sort()`)
 * @param p - between 0 and 1, e.g. 0.99
 * @returns NaN when there are no samples, so an empty case cannot pass for a 0 ms latency
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/**
 * Samples copied into a Float64Array and sorted ascending (numeric order, unlike `Array#sort`).
 * @param samples - in any order; not modified
 */
export function sortedSamples(samples: ArrayLike<number>): Float64Array {
  return Float64Array.from(samples).sort();
}
