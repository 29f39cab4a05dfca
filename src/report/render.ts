// VerdictReport → Markdown (PR comment, check run, job summary) and → plain terminal text.
// Pure: the same report always renders to the same text, which the snapshot tests keep.
//
// Layout, what a person reads in ten seconds first:
//   1. marker + headline: the verdict and counts, the machine class (CPU, cores, ISA path,
//      compiler), the profile and what this run was compared with;
//   2. one line per lane (its check name, conclusion and summary), and the per-lane geometric
//      mean of the throughput ratios with its interval;
//   3. "Changes": baseline verdicts that are not a plain pass (regressions first);
//   4. "Gates": the targets of rules.yml and where this run stands;
//   5. notes: lane errors with their output, incomparable baselines, noisy, new, missing;
//   6. "Trends": per lane a Mermaid chart of its history and the changes of level standing in it;
//   7. per lane, in <details>: every verdict, for whoever wants the full picture. Incomparable
//      metrics are counted there, not listed, unless asked for.
// Over the size budget, whole sections are dropped with a note saying which: the charts first,
// then the details (the last lane first), then the notes, the gates and the changes.

import { markdownTable } from 'markdown-table';
import { formatAbsDelta, formatPct, formatValue } from '../compare/format.js';
import { boundText } from '../compare/compare.js';
import { isFailing, isMissedGate, isWarning } from '../model/verdicts.js';
import type {
  CheckConclusion,
  LaneVerdicts,
  Verdict,
  VerdictReport,
  VerdictState,
} from '../model/verdicts.js';
import { utf8Length } from './bytes.js';
import { codeBlock, escapeMarkdown as esc, plainText } from './escape.js';
import { geomeanLine } from './geomean.js';
import { laneTrends, trendSection } from './trend.js';
import { describeFinding } from './history-notes.js';
import { describeGeomean } from './geomean.js';
import { laneGeomeans } from '../compare/geomean.js';
import type { HistoryPoint } from '../model/history.js';

export const REPORT_MARKER = '<!-- infeng-perf-report -->';
/**
 * The comment's budget: GitHub takes 65,536 characters in a comment body (the sticky marker
 * and a margin on top). Check runs and the job summary are limited in bytes: `maxBytes`.
 */
export const DEFAULT_MAX_CHARS = 65000;
/** Beyond this many gate rows the main table keeps only the ones that did not pass. */
const MAX_GATE_ROWS = 20;
const MAX_LISTED = 8;

export interface RenderOptions {
  /** a budget in characters (a PR comment); the default when no budget is given */
  maxChars?: number;
  /** default-branch history of this machine class, per lane: drawn as trend charts */
  history?: ReadonlyMap<string, readonly HistoryPoint[]>;
  /** false: no charts (the tables only) */
  charts?: boolean;
  /** a budget in UTF-8 bytes (a check run's summary, the job summary), as GitHub counts them */
  maxBytes?: number;
  /** where the untruncated report can be found, said in the truncation note */
  fullReportHint?: string;
  /** list incomparable metrics in the lane details instead of counting them */
  showIncomparable?: boolean;
}

const EMOJI: Record<VerdictState, string> = {
  pass: '✅',
  improved: '🚀',
  regressed: '❌',
  noisy: '〰️',
  incomparable: '➖',
  new: '🆕',
  missing: '❔',
  error: '💥',
};

const CONCLUSION: Record<CheckConclusion, string> = { success: '✅', failure: '❌', neutral: '➖' };

/** Order of rows in a table: what fails first, then what changed, then the rest. */
const RANK: Record<VerdictState, number> = {
  error: 0,
  regressed: 1,
  improved: 2,
  noisy: 3,
  missing: 4,
  incomparable: 5,
  new: 6,
  pass: 7,
};

function byImportance(a: Verdict, b: Verdict): number {
  return (
    Number(isFailing(b)) - Number(isFailing(a)) ||
    RANK[a.state] - RANK[b.state] ||
    a.lane.localeCompare(b.lane) ||
    natural(a.caseId, b.caseId) ||
    a.metric.localeCompare(b.metric)
  );
}

/** "prefill/M512" before "prefill/M2048" */
function natural(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

const isMetricVerdict = (v: Verdict): boolean => v.metric !== '';
/** a change judged against something measured before: the committed baseline, or (A/B) the base */
const isChange = (v: Verdict): boolean => v.source === 'baseline' || v.source === 'ab';
const CHANGED: ReadonlySet<VerdictState> = new Set(['error', 'regressed', 'improved', 'noisy', 'missing']);

function allVerdicts(report: VerdictReport): Verdict[] {
  return report.lanes.flatMap((l) => l.verdicts);
}

// ---------------------------------------------------------------------------------------------
// cells shared by both renderers

/** Gates are targets: met or missed. A warn-severity miss or regression says so. */
function label(v: Verdict): string {
  const word =
    v.source === 'gate'
      ? v.state === 'pass'
        ? 'met'
        : v.state === 'regressed'
          ? 'missed'
          : v.state
      : v.state;
  return isWarning(v) ? `${word} (warn)` : word;
}

/** ❌ only for what fails the gate; a warn-severity regression is ⚠️. */
function emoji(v: Verdict): string {
  return isWarning(v) ? '⚠️' : (EMOJI[v.state] ?? '');
}

function verdictDetail(v: Verdict): string {
  if (v.pValue !== undefined && (v.state === 'regressed' || v.state === 'improved' || v.state === 'noisy')) {
    return `p=${v.pValue < 0.001 ? v.pValue.toExponential(0) : v.pValue.toFixed(3)}`;
  }
  if (v.state === 'noisy') return 'few samples';
  if (v.state === 'error' || v.state === 'incomparable') return v.reason;
  return '';
}

function delta(v: Verdict): string {
  if (v.deltaAbs === undefined) return '';
  if (v.tolerance?.abs !== undefined || v.deltaPct === undefined) return formatAbsDelta(v.deltaAbs, v.unit);
  return formatPct(v.deltaPct);
}

/** A/B: the confidence interval of the head/base change, as the change in % at each end. */
function interval(v: Verdict): string {
  const ab = v.ab;
  if (!ab || ab.low === undefined || ab.high === undefined) return '';
  const pct = (r: number) => formatPct((r - 1) * 100);
  return `${pct(ab.low)} … ${pct(ab.high)}`;
}

/** ± half the interquartile range, relative to the median; A/B: the change's interval */
function spread(v: Verdict): string {
  if (v.source === 'ab') return interval(v);
  const s = v.current?.spread;
  if (s === undefined) return '';
  // A relative spread of a percentage near zero (a LoRA tax of 0.2 %) reads as ±255 %; for
  // percentages and percentage points the spread is shown in the metric's own unit instead.
  if (v.unit === '%' || v.unit === 'pp') {
    const half = (s * Math.abs(v.current?.median ?? 0)) / 2;
    return `±${half.toFixed(2)} pp`;
  }
  return `±${((s * 100) / 2).toFixed(1)} %`;
}

function value(side: Verdict['baseline'], unit: string): string {
  return side ? formatValue(side.median, unit) : '';
}

function machineLine(report: VerdictReport): string {
  const m = report.machine;
  const paths = [...new Set(report.lanes.map((l) => l.path).filter((p) => p !== ''))];
  const parts = [`${m.cpuModel} (${m.cores} cores)`];
  if (paths.length > 0) parts.push(paths.join(', '));
  parts.push(`${m.compiler.id} ${m.compiler.version}`);
  parts.push(`profile ${report.profile}`);
  if (report.ab) parts.push(`A/B against ${report.ab.baseRef} (${report.ab.baseCommit.slice(0, 12)})`);
  else {
    const age = baselineAge(report);
    if (age) parts.push(age);
    if (report.abFallback) parts.push('A/B not possible, baselines used');
  }
  return parts.join(' · ');
}

function baselineAge(report: VerdictReport): string | undefined {
  const now = Date.parse(report.machine.time);
  const days = report.lanes
    .map((l) => l.baselineMeta?.timestamp)
    .filter((t): t is string => t !== undefined)
    .map((t) => Math.max(0, Math.floor((now - Date.parse(t)) / 86_400_000)))
    .filter((d) => Number.isFinite(d));
  if (days.length === 0) return 'no baseline for this machine class';
  const lo = Math.min(...days);
  const hi = Math.max(...days);
  const span = lo === hi ? `${lo}` : `${lo}–${hi}`;
  return `against committed baselines ${span} day${hi === 1 ? '' : 's'} old`;
}

function countsLine(report: VerdictReport): string {
  const c = report.counts;
  const all = allVerdicts(report);
  const warnings = all.filter((v) => isWarning(v)).length;
  const gatesMissed = all.filter((v) => isMissedGate(v)).length;
  const parts = [`${c.regressed - warnings - gatesMissed} regressed`];
  if (gatesMissed > 0) parts.push(`${gatesMissed} gate${gatesMissed === 1 ? '' : 's'} missed`);
  parts.push(`${c.improved} improved`, `${c.pass} unchanged`);
  if (warnings > 0) parts.push(`${warnings} warning${warnings === 1 ? '' : 's'}`);
  if (c.noisy > 0) parts.push(`${c.noisy} noisy`);
  if (c.incomparable > 0) parts.push(`${c.incomparable} incomparable`);
  if (c.new > 0) parts.push(`${c.new} new`);
  if (c.missing > 0) parts.push(`${c.missing} missing`);
  if (c.error > 0) parts.push(`${c.error} error${c.error === 1 ? '' : 's'}`);
  return parts.join(', ');
}

// ---------------------------------------------------------------------------------------------
// Markdown

function mdTable(header: string[], rows: string[][], align: string[]): string {
  return markdownTable([header, ...rows], { align, alignDelimiters: false });
}

function mdVerdict(v: Verdict): string {
  const detail = verdictDetail(v);
  // verdicts.json may come from a fork's artifact: even the fixed words are escaped
  const text = `${emoji(v)} ${esc(label(v))}`;
  return detail ? `${text} <sub>${esc(detail)}</sub>` : text;
}

function changeRows(verdicts: Verdict[], withLane: boolean): string[][] {
  return verdicts.map((v) => [
    ...(withLane ? [esc(v.lane)] : []),
    esc(v.caseId),
    esc(v.metric),
    esc(value(v.baseline, v.unit)),
    esc(value(v.current, v.unit)),
    esc(delta(v)),
    esc(spread(v)),
    mdVerdict(v),
  ]);
}

function changesTable(verdicts: Verdict[], withLane: boolean, ab = false): string {
  const header = [
    ...(withLane ? ['lane'] : []),
    'case',
    'metric',
    ab ? 'base' : 'baseline',
    ab ? 'head' : 'current',
    'Δ',
    ab ? 'interval' : 'spread',
    'verdict',
  ];
  const align = [...(withLane ? ['l'] : []), 'l', 'l', 'r', 'r', 'r', 'r', 'l'];
  return mdTable(header, changeRows(verdicts, withLane), align);
}

function gatesTable(verdicts: Verdict[], withLane: boolean): string {
  const header = [...(withLane ? ['lane'] : []), 'gate', 'case', 'metric', 'current', 'target', 'verdict'];
  const align = [...(withLane ? ['l'] : []), 'l', 'l', 'l', 'r', 'r', 'l'];
  const rows = verdicts.map((v) => [
    ...(withLane ? [esc(v.lane)] : []),
    v.gate?.description
      ? `${esc(v.gate.name)} <sub>${esc(v.gate.description)}</sub>`
      : esc(v.gate?.name ?? ''),
    esc(v.caseId),
    esc(v.metric),
    esc(value(v.current, v.unit)),
    esc(v.gate ? boundText(v.gate, v.unit) : ''),
    `${emoji(v)} ${esc(label(v))}`,
  ]);
  return mdTable(header, rows, align);
}

interface Section {
  /** said in the truncation note when the section is left out: Markdown, escaped */
  label: string;
  text: string;
  /** over the budget, the section with the highest rank goes first (the later one among equals) */
  drop: number;
}

/** Drop ranks: charts before any table, then the folded details, notes, gates, changes. */
const DROP = { changes: 0, gates: 1, notes: 2, details: 3, trends: 4 } as const;

function headSection(report: VerdictReport): string {
  const overall = geomeanLine(allVerdicts(report));
  const failing = allVerdicts(report).filter(isFailing).length;
  const warned = allVerdicts(report).some((v) => isWarning(v));
  const icon = report.conclusion === 'failure' ? '❌' : warned ? '⚠️' : '✅';
  const verdict = failing > 0 ? `**${failing} failing** · ` : '';
  const lines = [
    REPORT_MARKER,
    `${icon} **infeng perf** · ${verdict}${esc(countsLine(report))} · ${esc(machineLine(report))}`,
    '',
    mdTable(
      ['check', 'result', 'summary'],
      report.lanes.map((l) => [
        esc(l.check),
        `${CONCLUSION[l.conclusion] ?? ''} ${esc(l.conclusion)}`,
        esc(l.summary),
      ]),
      ['l', 'l', 'l'],
    ),
  ];
  if (overall) lines.push('', overall);
  return lines.join('\n');
}

function notesSection(report: VerdictReport): string | undefined {
  const items: string[] = [];
  for (const l of report.lanes) {
    if (l.ab?.baseStatus === 'identical') {
      items.push(
        `**${esc(l.lane)}**: the base's build of this lane (its binaries and the data they read) is byte-identical to the head's, so it was not run again; the head ran once for its gates.`,
      );
    } else if (l.ab && l.ab.baseStatus !== 'ok') {
      items.push(
        `**${esc(l.lane)}**: the base side did not run (${esc(l.ab.baseStatus)}${l.ab.baseError ? `: ${esc(l.ab.baseError)}` : ''}); the head's metrics were not compared, its gates were judged.`,
      );
    }
    if (l.error) {
      items.push(
        `**${esc(l.lane)}** failed at the ${esc(l.error.step)} step:\n\n${indent(codeBlock(clip(l.error.message)))}`,
      );
    }
    if (l.incomparable && l.otherClass) items.push(`**${esc(l.lane)}**: ${esc(l.incomparable)}.`);
    else if (l.incomparable)
      items.push(`**${esc(l.lane)}**: absolute metrics not judged (${esc(l.incomparable)}).`);
    const listed = (state: VerdictState, what: string) => {
      const vs = l.verdicts.filter((v) => v.state === state && isMetricVerdict(v));
      if (vs.length === 0) return;
      const names = vs.slice(0, MAX_LISTED).map((v) => `${esc(v.metric)} in ${esc(v.caseId)}`);
      const more = vs.length > MAX_LISTED ? `, and ${vs.length - MAX_LISTED} more` : '';
      items.push(`**${esc(l.lane)}**: ${vs.length} ${what}: ${names.join(', ')}${more}.`);
    };
    listed('noisy', 'noisy (beyond tolerance, not significant: rerun or add repetitions)');
    listed('new', 'without a baseline yet (run calibration to add them)');
    listed('missing', 'in the baseline but not measured');
  }
  if (report.abFallback) items.unshift(`**A/B**: ${esc(report.abFallback)}.`);
  for (const n of report.notes) items.push(esc(n));
  if (items.length === 0) return undefined;
  return ['#### Notes', '', ...items.map((i) => `- ${i}`)].join('\n');
}

function indent(block: string): string {
  return block
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

function clip(message: string): string {
  const lines = message.split(/\r?\n/);
  const kept = lines.slice(-30).join('\n'); // the end of a log says why it stopped
  const text = kept.length > 3000 ? `…${kept.slice(-3000)}` : kept;
  return lines.length > 30 ? `… (${lines.length - 30} earlier lines left out)\n${text}` : text;
}

function laneDetails(l: LaneVerdicts, showIncomparable: boolean): string {
  const all = l.verdicts.filter((v) => isChange(v) && isMetricVerdict(v));
  const metrics = showIncomparable ? all : all.filter((v) => v.state !== 'incomparable');
  const incomparable = all.length - metrics.length;
  const ab = metrics.some((v) => v.source === 'ab');
  const gates = l.verdicts.filter((v) => v.source === 'gate');
  const parts = [
    `<details><summary>${CONCLUSION[l.conclusion] ?? ''} <b>${esc(l.check)}</b> · ${esc(l.summary)}</summary>`,
    '',
  ];
  const b = l.baselineMeta;
  if (b) {
    parts.push(
      esc(
        `Baseline: commit ${b.commit}, ${b.timestamp.slice(0, 10)}, ${b.hardware} (${b.cores} cores), ${b.compiler}, path ${b.path}, profile ${b.profile}.`,
      ),
      '',
    );
  }
  const sorted = [...metrics].sort((x, y) => natural(x.caseId, y.caseId) || x.metric.localeCompare(y.metric));
  if (sorted.length > 0) parts.push(changesTable(sorted, false, ab), '');
  if (gates.length > 0) parts.push(gatesTable(gates, false), '');
  if (incomparable > 0) {
    parts.push(
      `${incomparable} incomparable metric${incomparable === 1 ? '' : 's'} not listed (no baseline of this machine class to judge them by; \`--show-incomparable\` or the input \`show-incomparable\` lists them).`,
      '',
    );
  }
  if (sorted.length === 0 && gates.length === 0 && incomparable === 0) parts.push('No metrics.', '');
  parts.push('</details>');
  return parts.join('\n');
}

function markdownSections(
  report: VerdictReport,
  options: RenderOptions = {},
): { head: string; rest: Section[] } {
  const verdicts = allVerdicts(report);
  const multiLane = new Set(verdicts.map((v) => v.lane)).size > 1;
  const rest: Section[] = [];

  const changes = verdicts.filter((v) => isChange(v) && isMetricVerdict(v) && CHANGED.has(v.state));
  const unchanged = verdicts.filter((v) => isChange(v) && v.state === 'pass').length;
  const ab = report.ab !== undefined;
  const title = ab
    ? `#### Changes against the base (${esc(report.ab!.baseCommit.slice(0, 12))}, measured in the same job)`
    : '#### Changes against the baseline';
  rest.push({
    label: 'the changes table',
    drop: DROP.changes,
    text:
      changes.length > 0
        ? [
            title,
            '',
            changesTable(changes.sort(byImportance), multiLane, ab),
            '',
            legend(unchanged, ab),
          ].join('\n')
        : `${title}\n\nNo change beyond tolerance${unchanged > 0 ? ` (${unchanged} metrics unchanged)` : ''}.`,
  });

  const gates = verdicts.filter((v) => v.source === 'gate').sort(byImportance);
  if (gates.length > 0) {
    const shown = gates.length > MAX_GATE_ROWS ? gates.filter((v) => v.state !== 'pass') : gates;
    const hidden = gates.length - shown.length;
    const lines = ['#### Gates', ''];
    if (shown.length > 0) lines.push(gatesTable(shown, multiLane));
    if (hidden > 0)
      lines.push(
        '',
        `${shown.length > 0 ? 'The other ' : 'All '}${hidden} gates pass (see the lane details).`,
      );
    rest.push({ label: 'the gates table', text: lines.join('\n'), drop: DROP.gates });
  }

  const notes = notesSection(report);
  if (notes) rest.push({ label: 'the notes', text: notes, drop: DROP.notes });

  if (options.history && options.charts !== false) {
    const trends = trendSection(report, options.history);
    if (trends) rest.push({ label: 'the trend charts', text: trends, drop: DROP.trends });
  }
  for (const l of report.lanes) {
    if (l.verdicts.some(isMetricVerdict))
      rest.push({
        label: `the details of ${esc(l.lane)}`,
        text: laneDetails(l, options.showIncomparable === true),
        drop: DROP.details,
      });
  }
  return { head: headSection(report), rest };
}

function legend(unchanged: number, ab = false): string {
  if (ab) {
    return `<sub>${unchanged} unchanged metrics not shown. base and head: medians over every round. Δ: the typical head/base change over the paired rounds (Hodges–Lehmann; pp for percentages). interval: its confidence interval at 1 − alpha. p: Wilcoxon signed-rank test on the rounds' log ratios.</sub>`;
  }
  return `<sub>${unchanged} unchanged metrics not shown. Δ: change of the median (pp for percentages). spread: ± half the interquartile range of this run, relative to the median (in pp for percentages). p: two-sided Mann–Whitney U.</sub>`;
}

/**
 * The Markdown report; never over its budget (`maxChars` characters, `maxBytes` UTF-8 bytes, or
 * both), dropping whole sections from the end. `maxChars: Infinity` never shortens it.
 */
export function renderMarkdown(report: VerdictReport, options: RenderOptions = {}): string {
  const maxChars = options.maxChars ?? (options.maxBytes === undefined ? DEFAULT_MAX_CHARS : Infinity);
  const maxBytes = options.maxBytes ?? Infinity;
  const fits = (text: string) =>
    text.length <= maxChars && (maxBytes === Infinity || utf8Length(text) <= maxBytes);
  const { head, rest } = markdownSections(report, options);
  const join = (sections: string[]): string => `${sections.join('\n\n')}\n`;

  const full = join([head, ...rest.map((s) => s.text)]);
  if (fits(full)) return full;

  const hint = options.fullReportHint ?? 'The full report is in the run’s report files.';
  const budget =
    maxBytes < maxChars
      ? `${maxBytes.toLocaleString('en-US')} bytes`
      : `${maxChars.toLocaleString('en-US')} characters`;
  const kept = [...rest];
  const dropped: Section[] = [];
  for (;;) {
    const note = `**Report shortened** to fit ${budget}: left out ${[...dropped]
      .sort((a, b) => rest.indexOf(a) - rest.indexOf(b))
      .map((s) => s.label)
      .join(', ')}. ${hint}`;
    const text = join([head, ...kept.map((s) => s.text), note]);
    if (dropped.length > 0 && (fits(text) || kept.length === 0)) {
      // the head alone over budget cannot happen with real lane counts; cut at a line if it does
      return fits(text) ? text : cutAtLine(text, maxChars, maxBytes);
    }
    let victim = -1;
    kept.forEach((sec, i) => {
      if (victim < 0 || sec.drop >= (kept[victim] as Section).drop) victim = i;
    });
    if (victim < 0) return text;
    dropped.push(...kept.splice(victim, 1));
  }
}

/** The longest run of whole lines of `text` within both budgets. */
function cutAtLine(text: string, maxChars: number, maxBytes: number): string {
  let chars = 0;
  let bytes = 0;
  let out = '';
  for (const line of text.split('\n')) {
    const c = line.length + 1;
    const b = utf8Length(line) + 1;
    if (chars + c > maxChars || bytes + b > maxBytes) break;
    out += `${line}\n`;
    chars += c;
    bytes += b;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Terminal

function terminalLabel(v: Verdict): string {
  const base = isFailing(v) ? label(v).toUpperCase() : label(v);
  const detail = verdictDetail(v);
  return detail ? `${base} (${detail})` : base;
}

/** Columns padded with spaces; numbers right-aligned. */
function textTable(header: string[], rows: string[][], right: boolean[]): string {
  const all = [header, ...rows].map((r) => r.map(plainText));
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((cell, i) => (right[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(all[0] ?? []), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join(
    '\n',
  );
}

/** The same report for a terminal: plain text, aligned, readable without colours, no charts. */
export function renderTerminal(report: VerdictReport, options: RenderOptions = {}): string {
  const verdicts = allVerdicts(report);
  const failing = verdicts.filter(isFailing).length;
  const out: string[] = [
    `infeng perf: ${report.conclusion === 'failure' ? `FAILED (${failing} failing)` : 'ok'} - ${countsLine(report)}`,
    plainText(machineLine(report)),
    '',
  ];
  const laneWidth = Math.max(...report.lanes.map((l) => plainText(l.check).length), 0);
  for (const l of report.lanes) {
    out.push(
      `  ${plainText(l.check).padEnd(laneWidth)}  ${plainText(l.conclusion).padEnd(7)}  ${plainText(l.summary)}`,
    );
  }
  const overall = laneGeomeans(verdicts);
  if (overall.length > 0) {
    out.push('', 'Throughput overall (geometric mean of current/base):');
    for (const g of overall) out.push(`  ${plainText(describeGeomean(g))}`);
  }

  const changes = verdicts
    .filter((v) => isChange(v) && isMetricVerdict(v) && CHANGED.has(v.state))
    .sort(byImportance);
  const ab = report.ab !== undefined;
  out.push(
    '',
    ab
      ? `Changes against the base (${report.ab!.baseCommit.slice(0, 12)}, same job):`
      : 'Changes against the baseline:',
  );
  if (changes.length === 0) out.push('  none beyond tolerance');
  else {
    out.push(
      textTable(
        [
          'lane',
          'case',
          'metric',
          ab ? 'base' : 'baseline',
          ab ? 'head' : 'current',
          'delta',
          ab ? 'interval' : 'spread',
          'verdict',
        ],
        changes.map((v) => [
          v.lane,
          v.caseId,
          v.metric,
          value(v.baseline, v.unit),
          value(v.current, v.unit),
          delta(v),
          spread(v),
          terminalLabel(v),
        ]),
        [false, false, false, true, true, true, true, false],
      ),
    );
  }

  const gates = verdicts.filter((v) => v.source === 'gate').sort(byImportance);
  if (gates.length > 0) {
    out.push('', 'Gates:');
    out.push(
      textTable(
        ['lane', 'gate', 'case', 'current', 'target', 'verdict'],
        gates.map((v) => [
          v.lane,
          v.gate?.name ?? '',
          v.caseId,
          value(v.current, v.unit),
          v.gate ? boundText(v.gate, v.unit) : '',
          terminalLabel(v),
        ]),
        [false, false, false, true, true, false],
      ),
    );
  }

  const notes: string[] = [];
  if (report.abFallback) notes.push(`A/B: ${report.abFallback}`);
  for (const l of report.lanes) {
    if (l.ab?.baseStatus === 'identical')
      notes.push(`${l.lane}: the base's build is byte-identical to the head's; no A/B rounds`);
    else if (l.ab && l.ab.baseStatus !== 'ok')
      notes.push(
        `${l.lane}: the base side did not run (${l.ab.baseStatus}${l.ab.baseError ? `: ${l.ab.baseError}` : ''})`,
      );
    if (l.error)
      notes.push(
        `${l.lane} failed at ${l.error.step}: ${l.error.message.split(/\r?\n/).slice(-5).join(' | ')}`,
      );
    if (l.incomparable && l.otherClass) notes.push(`${l.lane}: ${l.incomparable}`);
    else if (l.incomparable) notes.push(`${l.lane}: absolute metrics not judged (${l.incomparable})`);
  }
  notes.push(...report.notes);
  if (notes.length > 0) out.push('', 'Notes:', ...notes.map((n) => `  - ${plainText(n)}`));
  if (options.history) {
    const findings = laneTrends(report, options.history).flatMap((t) => t.findings);
    if (findings.length > 0)
      out.push('', 'History:', ...findings.map((f) => `  - ${plainText(describeFinding(f, false))}`));
  }
  return `${out.join('\n')}\n`;
}
