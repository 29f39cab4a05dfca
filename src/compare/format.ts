// Numbers with units as people read them, shared by verdict reasons and the report so both say
// the same thing: "1.42×", "2.31 %", "+1.00 pp", "412.3 GFLOP/s".

/** Three to four significant digits, never exponent notation for ordinary magnitudes. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e6) return `${(v / 1e6).toFixed(a >= 1e8 ? 0 : 2)}M`;
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  if (a >= 0.001) return v.toPrecision(3);
  return v.toExponential(2);
}

export function isRatioUnit(unit: string): boolean {
  return unit === 'x' || unit === '×';
}

export function formatValue(v: number, unit: string): string {
  if (isRatioUnit(unit)) return `${formatNumber(v)}×`;
  return unit === '' ? formatNumber(v) : `${formatNumber(v)} ${unit}`;
}

function signed(v: number, text: string): string {
  return v > 0 ? `+${text}` : v < 0 ? `−${text.replace(/^-/, '')}` : text;
}

/** A relative change: two decimals below 1 %, one above ("+0.50 %", "−10.3 %"). */
export function formatPct(v: number): string {
  const a = Math.abs(v);
  return signed(v, `${a >= 1000 ? v.toFixed(0) : a >= 1 ? v.toFixed(1) : v.toFixed(2)} %`);
}

/** A configured number such as a tolerance or a bound, without trailing zeros: "8", "1.5", "0.001". */
export function formatCompact(v: number): string {
  return String(Number(v.toPrecision(4)));
}

/** An absolute change; a change of a value in % is in percentage points. */
export function formatAbsDelta(v: number, unit: string): string {
  const u = unit === '%' ? 'pp' : unit;
  return signed(v, isRatioUnit(u) ? `${formatNumber(v)}×` : `${formatNumber(v)} ${u}`.trim());
}
