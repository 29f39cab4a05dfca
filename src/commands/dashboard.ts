// `infeng-perf dashboard`: the history as a static HTML page (report/dashboard.ts draws it),
// read from a local store folder or from the repository's data branch, written to one file
// that needs no server: open it from disk, or publish it with GitHub Pages.
import path from 'node:path';
import { InputError } from '../errors.js';
import { atomicWrite } from '../io/atomic-write.js';
import { fetchHistoryBranch, readStoreFiles } from '../history/git-branch.js';
import { parseStoreFiles, readStoreDir, type StoreClass } from '../history/store.js';
import { renderDashboard } from '../report/dashboard.js';

export interface DashboardCommandOptions {
  root: string;
  /** a local store folder */
  historyDir?: string;
  /** the data branch, fetched from origin */
  historyBranch?: string;
  out: string;
  now: Date;
}

/** Writes the page; returns its path, the number of classes and the notes of what was skipped. */
export function writeDashboard(o: DashboardCommandOptions): {
  file: string;
  classes: number;
  notes: string[];
} {
  let read: { classes: StoreClass[]; notes: string[] };
  let source: string;
  if (o.historyDir) {
    read = readStoreDir(o.historyDir);
    source = o.historyDir;
  } else if (o.historyBranch) {
    const branch = o.historyBranch;
    const tip = fetchHistoryBranch(o.root, { branch });
    if (!tip) {
      throw new InputError(`the remote has no history branch ${branch} yet`, { field: '--history-branch' });
    }
    read = parseStoreFiles(readStoreFiles(o.root, tip), (name) => `${branch}:${name}`);
    source = `the ${branch} branch at ${tip.slice(0, 12)}`;
  } else {
    throw new InputError('say where the history is: --history <dir> or --history-branch <name>', {
      field: 'dashboard',
    });
  }
  const page = renderDashboard(read.classes, { generated: o.now.toISOString(), source, notes: read.notes });
  const file = path.resolve(o.root, o.out);
  atomicWrite(file, page);
  return { file, classes: read.classes.length, notes: read.notes };
}
