// Every lane writes its report files the same way: CSV tables for spreadsheets and other tools,
// and a JSON summary; one place so the formats (header row, trailing newline) never drift.
import { atomicWrite } from '../io/atomic-write.js';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';

export type CsvRow = Record<string, string | number>;

/** Writes `name` under reportsDir as CSV with exactly these columns; returns the name. */
export function writeCsv(
  reportsDir: string,
  name: string,
  rows: CsvRow[],
  columns: readonly string[],
): string {
  atomicWrite(path.join(reportsDir, name), stringify(rows, { header: true, columns: [...columns] }));
  return name;
}

/** Writes `name` under reportsDir as pretty JSON; returns the name. */
export function writeJsonReport(reportsDir: string, name: string, data: unknown): string {
  atomicWrite(path.join(reportsDir, name), `${JSON.stringify(data, null, 2)}\n`);
  return name;
}
