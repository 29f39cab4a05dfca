// GitHub counts most of its limits in bytes: a check run's output.summary and output.text
// take 65,535 bytes, the job summary 1 MiB; only a comment's 65,536 is in characters. A case
// name in CJK is three bytes a character, so a budget in characters let 9,000 of them through
// at 1.39 MB. Every budget GitHub counts in bytes is counted in UTF-8 bytes here, annotation
// titles and messages are capped, and the full report is never shortened.
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { compare } from '../src/compare/compare.js';
import { parseRules } from '../src/compare/rules.js';
import { renderMarkdown, DEFAULT_MAX_CHARS } from '../src/report/render.js';
import {
  CHECK_SUMMARY_MAX,
  renderLaneCheck,
  renderNotRunCheck,
  renderReportCheck,
  renderUnfinishedCheck,
} from '../src/report/check.js';
import {
  ANNOTATION_MESSAGE_MAX_BYTES,
  ANNOTATION_TITLE_MAX,
  annotationsFor,
} from '../src/sinks/check-plan.js';
import { fullReport, jobSummary, JOB_SUMMARY_MAX_BYTES, summaryReport } from '../src/sinks/summary.js';
import type { VerdictReport } from '../src/model/verdicts.js';
import { around, baselineOf, gemmCase, lane, metric, run } from './fixtures/compare/build.js';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
const CJK = '矩阵乘法低秩适配融合内核解码阶段注意力缓存';

function cjkReport(cases: number): VerdictReport {
  const ids = Array.from({ length: cases }, (_, i) => `解码/${CJK}/M${i}/${CJK}`);
  const before = lane(
    'gemm',
    ids.map((id) => gemmCase(id, [metric('fused_gflops', around(400))])),
  );
  const after = lane(
    'gemm',
    ids.map((id) => gemmCase(id, [metric('fused_gflops', around(300))])),
  );
  const rules = parseRules(
    'lanes:\n  gemm:\n    tolerances: [{ metric: "*", tolerancePct: 8, severity: fail }]\n',
  );
  return compare(run([after]), { gemm: baselineOf(before) }, rules);
}

describe('sizes in bytes', () => {
  const report = cjkReport(9000);
  const ids = report.lanes[0]!.verdicts.map((v) => v.caseId);

  it('the fixture is far over every limit in bytes, and each row is several bytes a character', () => {
    const full = fullReport(report);
    expect(bytes(full)).toBeGreaterThan(JOB_SUMMARY_MAX_BYTES);
    expect(bytes(full)).toBeGreaterThan(1.5 * full.length);
  });

  it('the comment stays within 65,536 characters', () => {
    expect(renderMarkdown(report).length).toBeLessThanOrEqual(DEFAULT_MAX_CHARS);
  });

  it("each check run's summary stays within 65,535 bytes", () => {
    const lanes = renderLaneCheck(report, report.lanes[0]!);
    const single = renderReportCheck(report);
    for (const text of [lanes.summary, single.summary]) {
      expect(bytes(text)).toBeLessThanOrEqual(CHECK_SUMMARY_MAX);
      expect(text).toMatch(/Report shortened\*\* to fit 65,[0-9]{3} bytes/);
    }
    const long = `${CJK.repeat(5000)}`;
    expect(bytes(renderNotRunCheck('gemm-perf', long).summary)).toBeLessThanOrEqual(CHECK_SUMMARY_MAX);
    expect(bytes(renderUnfinishedCheck('gemm-perf', long).summary)).toBeLessThanOrEqual(CHECK_SUMMARY_MAX);
  });

  it('the job summary, with its footer, stays within 1 MiB', () => {
    const sinks = [
      { sink: 'comment', text: `not posted: ${CJK.repeat(20_000)}` },
      { sink: 'check runs', text: '5 of 5 completed' },
    ];
    const text = jobSummary(summaryReport(report), sinks);
    expect(bytes(text)).toBeLessThanOrEqual(JOB_SUMMARY_MAX_BYTES);
    expect(text).toContain('check runs: 5 of 5 completed');
  });

  it('report-full.md holds every row', () => {
    const full = fullReport(report);
    expect(full).not.toMatch(/Report shortened/);
    const missing = ids.filter((id) => !full.includes(id));
    expect(missing).toEqual([]);
  });

  it("annotations: the title within GitHub's 255 characters, the message well under 64 KiB", () => {
    const v = { ...report.lanes[0]!.verdicts[0]!, caseId: CJK.repeat(100), reason: CJK.repeat(30_000) };
    const [a] = annotationsFor([v], () => ({ path: 'baselines/x/gemm.json', line: 3 }));
    expect(a!.title.length).toBeLessThanOrEqual(ANNOTATION_TITLE_MAX);
    expect(ANNOTATION_TITLE_MAX).toBe(255);
    expect(bytes(a!.message)).toBeLessThanOrEqual(ANNOTATION_MESSAGE_MAX_BYTES);
    expect(ANNOTATION_MESSAGE_MAX_BYTES).toBeLessThan(64 * 1024);
    expect(a!.message.endsWith('…')).toBe(true);
  });
});
