// Google Benchmark --benchmark_filter values naming benchmarks exactly: used by the A/B runner's
// serving benches (one case at a time) and by lanes that leave a case out of later A/B rounds.

const REGEX_SPECIAL = /[.*+?^${}()|[\]\\]/g;

// Google Benchmark appends suffixes to a name (/real_time, /repeats:3, …): a name ends at a '/'.
const escape = (name: string) => name.replace(REGEX_SPECIAL, '\\$&');

/** A --benchmark_filter that selects exactly the benchmark `name`, whatever its suffixes. */
export function exactFilter(name: string): string {
  return `^${escape(name)}(/|$)`;
}

/** A --benchmark_filter that selects every benchmark but `names` (Google Benchmark's leading '-'). */
export function exceptFilter(names: string[]): string {
  return `-^(${names.map(escape).join('|')})(/|$)`;
}
