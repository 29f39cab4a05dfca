// History findings (history/findings.ts) in words: the notes under a PR's trend charts, the
// push run's job summary, and the terminal say a change of level the same way, with the commit
// range where it happened, its size, and whether it is one step or a slow drift. Pure.
import type { HistoryPoint } from '../model/history.js';
import type { Better } from '../model/results.js';
import { formatPct } from '../compare/format.js';
import { findingsOf, type Finding, type FindingOptions } from '../history/findings.js';
import { seriesOf } from '../history/changepoints.js';
import { escapeMarkdown as esc } from './escape.js';

export interface FindingSubject {
  lane: string;
  caseId: string;
  metric: string;
}

export interface LocatedFinding extends FindingSubject {
  finding: Finding;
}

/** A short SHA: the first 7 hex digits, or the text as it is (a test's commit names). */
function short(commit: string): string {
  return /^[0-9a-f]{7,}$/i.test(commit) ? commit.slice(0, 7).toLowerCase() : commit.slice(0, 12);
}

/** "p = 0.012", or "p < 0.001" where three decimals would say 0. */
export function pText(p: number): string {
  return p < 0.001 ? 'p < 0.001' : `p = ${p.toFixed(3)}`;
}

/** One sentence; `markdown` escapes the names and puts the commits in code spans. */
export function describeFinding(s: LocatedFinding, markdown = true): string {
  const f = s.finding;
  const name = markdown
    ? `${esc(s.lane)} · ${esc(s.caseId)} · ${esc(s.metric)}`
    : `${s.lane} / ${s.caseId} / ${s.metric}`;
  const sha = (c: string) => (markdown ? `\`${esc(short(c))}\`` : short(c));
  const size = formatPct(f.change * 100);
  const tone = f.worse ? (markdown ? '⚠️ worse: ' : 'worse: ') : 'better: ';
  switch (f.kind) {
    case 'step':
      return `${name}: ${tone}level changed ${size} between ${sha(f.from)} and ${sha(f.to)} (${pText(f.pValue)}), and has stayed there since.`;
    case 'steps':
      return `${name}: ${tone}slow drift of ${size} in ${f.count} small steps between ${sha(f.from)} and ${sha(f.to)} (each ${pText(f.pValue).replace('p = ', 'p ≤ ')}), still standing.`;
    case 'slope':
      return `${name}: ${tone}slow drift of ${size} over the last ${f.count} commits (${sha(f.from)} to ${sha(f.to)}, Mann–Kendall ${pText(f.pValue)}).`;
  }
}

/** The unit and direction of a metric in the history (from its newest record holding it). */
function betterOf(points: readonly HistoryPoint[], caseId: string, metric: string): Better {
  for (let i = points.length - 1; i >= 0; i--) {
    const m = points[i]?.cases[caseId]?.[metric];
    if (m) return m.better;
  }
  return 'higher';
}

/** The history with one point per commit (the latest record of a commit that ran twice). */
export function onePerCommit(points: readonly HistoryPoint[]): HistoryPoint[] {
  const last = new Map<string, number>();
  points.forEach((p, i) => last.set(p.commit, i));
  return points.filter((p, i) => last.get(p.commit) === i);
}

/** Every metric named in the points, by case id then metric name. */
export function metricsOf(points: readonly HistoryPoint[]): { caseId: string; metric: string }[] {
  const seen = new Map<string, Set<string>>();
  for (const p of points)
    for (const [caseId, metrics] of Object.entries(p.cases)) {
      const set = seen.get(caseId) ?? new Set<string>();
      for (const m of Object.keys(metrics)) set.add(m);
      seen.set(caseId, set);
    }
  return [...seen.keys()]
    .sort()
    .flatMap((caseId) => [...(seen.get(caseId) as Set<string>)].sort().map((metric) => ({ caseId, metric })));
}

/** The findings of the named series of one lane's history (every metric when none is named). */
export function laneFindings(
  lane: string,
  points: readonly HistoryPoint[],
  series?: readonly { caseId: string; metric: string }[],
  options: FindingOptions = {},
): LocatedFinding[] {
  const history = onePerCommit(points);
  return (series ?? metricsOf(history)).flatMap((s) =>
    findingsOf(seriesOf(history, s.caseId, s.metric), betterOf(history, s.caseId, s.metric), options).map(
      (finding) => ({ lane, caseId: s.caseId, metric: s.metric, finding }),
    ),
  );
}

/** Worse first, then the larger change. */
export function byConcern(a: LocatedFinding, b: LocatedFinding): number {
  return (
    Number(b.finding.worse) - Number(a.finding.worse) ||
    Math.abs(b.finding.change) - Math.abs(a.finding.change) ||
    a.lane.localeCompare(b.lane) ||
    a.caseId.localeCompare(b.caseId) ||
    a.metric.localeCompare(b.metric)
  );
}

export interface HistorySummaryLane {
  lane: string;
  classKey: string;
  /** the lane's history on its class, oldest first, this run included */
  points: readonly HistoryPoint[];
}

/** At most this many findings are listed in the job summary; the rest are counted. */
const MAX_SUMMARY_FINDINGS = 40;

/**
 * The push run's "History" section of the job summary: what was recorded, and every change of
 * level or slow drift standing in the recorded lanes' histories, worse first.
 */
export function historySummary(
  lanes: readonly HistorySummaryLane[],
  recorded: string,
  options: FindingOptions = {},
): string {
  const lines = ['### infeng perf history', '', recorded];
  const found = lanes.flatMap((l) => laneFindings(l.lane, l.points, undefined, options)).sort(byConcern);
  const points = lanes.map((l) => `${esc(l.lane)} ${onePerCommit(l.points).length}`).join(', ');
  lines.push('');
  if (found.length === 0) {
    lines.push(`No change of level stands in the history (commits per lane: ${points}).`);
  } else {
    lines.push(`Changes of level standing in the history (commits per lane: ${points}):`, '');
    lines.push(...found.slice(0, MAX_SUMMARY_FINDINGS).map((f) => `- ${describeFinding(f)}`));
    if (found.length > MAX_SUMMARY_FINDINGS)
      lines.push(`- and ${found.length - MAX_SUMMARY_FINDINGS} more (run \`infeng-perf dashboard\`).`);
  }
  return `${lines.join('\n')}\n`;
}
