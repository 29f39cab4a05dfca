// The history as one static HTML page: per machine class, per lane and profile, one chart per
// metric over the default branch's commits, with the change points marked. Pure: records in,
// text out; the command reads the store (a folder or the data branch) and writes the file.
//
// The charts are SVG written here, not a charting library: the page then needs no script at
// all (it opens from file://, from GitHub Pages or from an artifact, and nothing can fail to
// load), the bundle ships nothing extra, and a test can count exactly what was drawn (one
// circle.point per commit, one line.changepoint per change of level of 1 % or more). Each point carries an SVG
// <title>, which browsers show as a tooltip: the commit, the value and the spread.
import type { HistoryRecord, SeriesPoint } from '../model/history.js';
import type { Better } from '../model/results.js';
import { formatPct, formatValue } from '../compare/format.js';
import { detectChangePoints, type ChangePoint } from '../history/changepoints.js';
import { DEFAULT_MIN_CHANGE } from '../history/findings.js';
import { metricsOf, onePerCommit } from './history-notes.js';

/** The newest points drawn (and searched for change points) per chart. */
export const DEFAULT_DASHBOARD_POINTS = 100;

export interface DashboardClass {
  classKey: string;
  records: readonly HistoryRecord[];
}

export interface DashboardOptions {
  /** "generated at …" in the footer; given, so the page is a pure function of its input */
  generated: string;
  /** where the history came from, said in the header */
  source: string;
  /** what was skipped while reading (damaged lines), listed on the page */
  notes?: readonly string[];
  maxPoints?: number;
}

const WIDTH = 600;
const HEIGHT = 200;
const PAD = { left: 100, right: 12, top: 12, bottom: 28 };

/** Text safe in HTML content and in a double-quoted attribute. */
export function html(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function short(commit: string): string {
  return /^[0-9a-f]{7,}$/i.test(commit) ? commit.slice(0, 7) : commit.slice(0, 12);
}

/** Coordinates with two decimals: enough for a screen, and stable text for tests. */
function n2(v: number): string {
  return (Math.round(v * 100) / 100).toString();
}

interface ChartInput {
  id: string;
  title: string;
  unit: string;
  better: Better;
  points: { commit: string; time: string; value: number; spread: number }[];
  changePoints: ChangePoint[];
}

function chartSvg(c: ChartInput): string {
  const values = c.points.map((p) => p.value);
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.05;
    lo -= pad;
    hi += pad;
  } else {
    const pad = (hi - lo) * 0.08;
    lo -= pad;
    hi += pad;
  }
  const w = WIDTH - PAD.left - PAD.right;
  const h = HEIGHT - PAD.top - PAD.bottom;
  const n = c.points.length;
  const x = (i: number) => PAD.left + (n === 1 ? w / 2 : (i * w) / (n - 1));
  const y = (v: number) => PAD.top + h - ((v - lo) / (hi - lo)) * h;
  const path = c.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${n2(x(i))},${n2(y(p.value))}`).join(' ');
  const marks = c.changePoints.map((cp) => {
    const cx = (x(cp.index - 1) + x(cp.index)) / 2;
    const label = `level changed ${formatPct(cp.relativeChange * 100)} between ${short(cp.previousCommit)} and ${short(cp.commit)} (p = ${cp.pValue.toFixed(3)})`;
    return `<line class="changepoint" x1="${n2(cx)}" x2="${n2(cx)}" y1="${PAD.top}" y2="${PAD.top + h}"><title>${html(label)}</title></line>`;
  });
  const dots = c.points.map(
    (p, i) =>
      `<circle class="point" cx="${n2(x(i))}" cy="${n2(y(p.value))}" r="3"><title>${html(
        `${short(p.commit)} · ${p.time.slice(0, 10)} · ${formatValue(p.value, c.unit)} (±${((p.spread * 100) / 2).toFixed(1)} %)`,
      )}</title></circle>`,
  );
  const axis = [
    `<line class="axis" x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${PAD.top + h}"/>`,
    `<line class="axis" x1="${PAD.left}" x2="${PAD.left + w}" y1="${PAD.top + h}" y2="${PAD.top + h}"/>`,
    `<text class="tick" x="${PAD.left - 4}" y="${PAD.top + 8}" text-anchor="end">${html(formatValue(hi, c.unit))}</text>`,
    `<text class="tick" x="${PAD.left - 4}" y="${PAD.top + h}" text-anchor="end">${html(formatValue(lo, c.unit))}</text>`,
    `<text class="tick" x="${PAD.left}" y="${HEIGHT - 8}">${html(short(c.points[0]?.commit ?? ''))}</text>`,
    `<text class="tick" x="${PAD.left + w}" y="${HEIGHT - 8}" text-anchor="end">${html(short(c.points[n - 1]?.commit ?? ''))}</text>`,
  ];
  return [
    `<svg class="chart" id="${html(c.id)}" data-points="${n}" data-changepoints="${c.changePoints.length}" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${html(c.title)}">`,
    ...axis,
    ...marks,
    `<path class="line" d="${path}"/>`,
    ...dots,
    '</svg>',
  ].join('');
}

/** The charts of one lane and profile on one class: one per metric with at least one point. */
function laneCharts(classKey: string, records: readonly HistoryRecord[], maxPoints: number): string[] {
  const history = onePerCommit(records).slice(-maxPoints);
  return metricsOf(history).flatMap(({ caseId, metric }) => {
    const points: ChartInput['points'] = [];
    let unit = '';
    let better: Better = 'higher';
    for (const r of history) {
      const m = r.cases[caseId]?.[metric];
      if (!m || !Number.isFinite(m.median)) continue;
      points.push({ commit: r.commit, time: r.time, value: m.median, spread: m.spread });
      unit = m.unit;
      better = m.better;
    }
    if (points.length === 0) return [];
    const series: SeriesPoint[] = points.map((p) => ({ commit: p.commit, value: p.value }));
    // the same floor as the report's findings: a 0.2 % shift in a quiet series is no news
    const changePoints = detectChangePoints(series).filter(
      (cp) => Math.abs(cp.relativeChange) >= DEFAULT_MIN_CHANGE,
    );
    const title = `${caseId} · ${metric}`;
    const id =
      `${classKey}--${records[0]?.lane ?? ''}--${records[0]?.profile ?? ''}--${caseId}--${metric}`.replace(
        /[^A-Za-z0-9_-]+/g,
        '_',
      );
    const chart = chartSvg({ id, title, unit, better, points, changePoints });
    const caption = `${html(title)} <span class="unit">${html(unit)}, ${better} is better · ${points.length} commit${points.length === 1 ? '' : 's'}${changePoints.length > 0 ? ` · ${changePoints.length} change${changePoints.length === 1 ? '' : 's'} of level` : ''}</span>`;
    return [`<figure><figcaption>${caption}</figcaption>${chart}</figure>`];
  });
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #d0d7de}h3{font-size:15px}
.grid{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;border:1px solid #d0d7de;border-radius:6px;padding:8px}
figcaption{font-weight:600;margin-bottom:4px;max-width:${WIDTH}px;overflow-wrap:anywhere}
.unit{font-weight:400;color:#59636e}
svg.chart .line{fill:none;stroke:#0969da;stroke-width:1.5}
svg.chart .point{fill:#0969da}
svg.chart .changepoint{stroke:#cf222e;stroke-width:1.5;stroke-dasharray:4 3}
svg.chart .axis{stroke:#8c959f}
svg.chart .tick{font-size:10px;fill:#59636e}
.notes{color:#59636e}
`;

/** The whole page. */
export function renderDashboard(classes: readonly DashboardClass[], options: DashboardOptions): string {
  const maxPoints = options.maxPoints ?? DEFAULT_DASHBOARD_POINTS;
  const sections: string[] = [];
  let charts = 0;
  for (const c of [...classes].sort((a, b) => a.classKey.localeCompare(b.classKey))) {
    const groups = new Map<string, HistoryRecord[]>();
    for (const r of c.records) {
      const k = `${r.lane}\u0000${r.profile}`;
      groups.set(k, [...(groups.get(k) ?? []), r]);
    }
    const lanes: string[] = [];
    for (const [k, records] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
      const [lane, profile] = k.split('\u0000') as [string, string];
      const figures = laneCharts(c.classKey, records, maxPoints);
      charts += figures.length;
      if (figures.length === 0) continue;
      lanes.push(
        `<h3>${html(lane)} <span class="unit">profile ${html(profile)}, ISA path ${html(records[records.length - 1]?.path ?? '')}</span></h3><div class="grid">${figures.join('')}</div>`,
      );
    }
    if (lanes.length > 0)
      sections.push(`<section class="class"><h2>${html(c.classKey)}</h2>${lanes.join('')}</section>`);
  }
  const notes = options.notes ?? [];
  const body = [
    `<h1>infeng perf history</h1>`,
    `<p>Default-branch runs from ${html(options.source)}: one chart per lane metric and machine class (numbers of different classes are never mixed), the newest ${maxPoints} commits. A red dashed line marks a change of level found by E-divisive means; hover a point for its commit and value.</p>`,
    sections.length > 0 ? sections.join('') : '<p>No history recorded yet.</p>',
    notes.length > 0
      ? `<h2>Skipped while reading</h2><ul class="notes">${notes.map((n) => `<li>${html(n)}</li>`).join('')}</ul>`
      : '',
    `<footer class="notes"><p>${charts} chart${charts === 1 ? '' : 's'} · generated ${html(options.generated)} by infeng-perf dashboard</p></footer>`,
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>infeng perf history</title><style>${STYLE}</style></head>
<body>${body.join('\n')}</body></html>
`;
}
