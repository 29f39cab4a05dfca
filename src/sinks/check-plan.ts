// Which check runs to complete, with what conclusion and text. Pure: from the verdicts (or
// their absence) to a list of plans; the API calls live in checks.ts.
//
// The rule that matters for branch protection: every stable lane check name completes, also
// for lanes that were not selected, not built, or when no report exists at all, because a
// required check that never reports stays "pending" and blocks the merge forever.
import { isFailing, isWarning } from '../model/verdicts.js';
import { CHECK_NAMES, LANES } from '../model/lanes.js';
import type { CheckConclusion, Verdict, VerdictReport } from '../model/verdicts.js';
import { renderLaneCheck, renderNotRunCheck, renderReportCheck } from '../report/check.js';
import { clipUtf8 } from '../report/bytes.js';

export const CHECK_RUN_MODES = ['per-lane', 'single', 'none'] as const;
export type CheckRunMode = (typeof CHECK_RUN_MODES)[number];

/** The check name of `check-runs: single`. */
export const SINGLE_CHECK_NAME = 'infeng-perf';

/** GitHub accepts at most 50 annotations per request. */
export const ANNOTATIONS_PER_REQUEST = 50;
/** GitHub's documented limit for an annotation's title, in characters. */
export const ANNOTATION_TITLE_MAX = 255;
/**
 * An annotation's message shows inline in a diff: its reason is a sentence, and a lane's
 * whole stderr in it would only bury the line. Well under GitHub's 64 KiB.
 */
export const ANNOTATION_MESSAGE_MAX_BYTES = 4_096;

export interface Annotation {
  path: string;
  start_line: number;
  end_line: number;
  annotation_level: 'failure' | 'warning' | 'notice';
  title: string;
  message: string;
}

export interface CheckPlan {
  name: string;
  conclusion: CheckConclusion;
  title: string;
  summary: string;
  annotations: Annotation[];
}

/** Where a verdict can point in the repository: the baseline entry or the gate in rules.yml. */
export type Locate = (v: Verdict) => { path: string; line: number } | undefined;

export function checkNames(mode: CheckRunMode): string[] {
  if (mode === 'none') return [];
  if (mode === 'single') return [SINGLE_CHECK_NAME];
  return LANES.map((l) => CHECK_NAMES[l]);
}

export function annotationsFor(verdicts: readonly Verdict[], locate: Locate): Annotation[] {
  const out: Annotation[] = [];
  for (const v of verdicts) {
    const failing = isFailing(v);
    const warned = isWarning(v);
    if (!failing && !warned) continue;
    const at = locate(v);
    if (!at) continue;
    const what = v.source === 'gate' ? `gate ${v.gate?.name ?? ''} missed` : `${v.state}`;
    out.push({
      path: at.path,
      start_line: at.line,
      end_line: at.line,
      annotation_level: failing ? 'failure' : 'warning',
      title: clipChars(
        `${v.lane} ${v.caseId} ${v.metric}: ${what}`.replace(/\s+/g, ' ').trim(),
        ANNOTATION_TITLE_MAX,
      ),
      message: clipUtf8(v.reason, ANNOTATION_MESSAGE_MAX_BYTES),
    });
  }
  return out;
}

export interface PlanOptions {
  mode: CheckRunMode;
  /** why a lane is absent from the report (not selected, no report at all) */
  notRun: string;
  locate?: Locate;
  fullReportHint?: string;
}

/** One plan per check name of the mode; `report` undefined means the run produced no report. */
export function planChecks(report: VerdictReport | undefined, o: PlanOptions): CheckPlan[] {
  const hint = o.fullReportHint ? { fullReportHint: o.fullReportHint } : {};
  const locate = o.locate ?? (() => undefined);
  if (o.mode === 'none') return [];
  if (o.mode === 'single') {
    if (!report) {
      return [
        {
          name: SINGLE_CHECK_NAME,
          conclusion: 'neutral',
          ...renderNotRunCheck(SINGLE_CHECK_NAME, o.notRun),
          annotations: [],
        },
      ];
    }
    return [
      {
        name: SINGLE_CHECK_NAME,
        conclusion: report.conclusion,
        ...renderReportCheck(report, hint),
        annotations: annotationsFor(
          report.lanes.flatMap((l) => l.verdicts),
          locate,
        ),
      },
    ];
  }
  return LANES.map((lane) => {
    const name = CHECK_NAMES[lane];
    const verdicts = report?.lanes.find((l) => l.lane === lane);
    if (!report || !verdicts) {
      return { name, conclusion: 'neutral' as const, ...renderNotRunCheck(name, o.notRun), annotations: [] };
    }
    return {
      name,
      conclusion: verdicts.conclusion,
      ...renderLaneCheck(report, verdicts, hint),
      annotations: annotationsFor(verdicts.verdicts, locate),
    };
  });
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * At most `max` characters however they are counted (UTF-16 units, which are never fewer than
 * code points), never splitting a surrogate pair, ending in … when cut.
 */
function clipChars(text: string, max: number): string {
  if (text.length <= max) return text;
  let out = '';
  for (const ch of text) {
    if (out.length + ch.length > max - 1) break;
    out += ch;
  }
  return `${out}…`;
}
