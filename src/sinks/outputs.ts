// The action's outputs, for the steps after it: the conclusion, how many verdicts fail the
// gate, where the Markdown report is, and the sticky comment's URL.
import { isFailing } from '../model/verdicts.js';
import type { VerdictReport } from '../model/verdicts.js';

export interface ActionOutputs {
  conclusion: 'success' | 'failure';
  regressions: string;
  'report-path': string;
  'comment-url': string;
}

export function actionOutputs(
  report: VerdictReport | undefined,
  reportPath: string,
  commentUrl: string | undefined,
): ActionOutputs {
  return {
    // no report at all cannot pass a gate
    conclusion: report?.conclusion ?? 'failure',
    regressions: String(report ? report.lanes.flatMap((l) => l.verdicts).filter(isFailing).length : 0),
    'report-path': reportPath,
    'comment-url': commentUrl ?? '',
  };
}
