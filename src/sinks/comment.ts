// The sticky PR comment: one per workflow and pull request, created on the first run and
// edited in place after, so the conversation shows one current report instead of a trail.
//
// It is found by a hidden marker that names the workflow (two workflows using the action keep
// separate comments) and by its author, the token's own account, so a comment someone else
// wrote with the marker in it is never taken over.
import type { GitHubClient } from '../github/client.js';
import type { VerdictReport } from '../model/verdicts.js';

export const COMMENT_MODES = ['always', 'on-change', 'never'] as const;
export type CommentMode = (typeof COMMENT_MODES)[number];

/** The account GITHUB_TOKEN comments as. */
export const ACTIONS_BOT = 'github-actions[bot]';

export interface CommentTarget {
  owner: string;
  repo: string;
  issue: number;
}

export interface ExistingComment {
  id: number;
  body?: string | null;
  html_url: string;
  user?: { login: string } | null;
}

export type CommentAction = 'created' | 'updated' | 'unchanged' | 'skipped';

export interface CommentResult {
  action: CommentAction;
  url?: string;
  /** why nothing was posted */
  reason?: string;
}

/** Encoded so no workflow name can close the HTML comment or forge another marker. */
export function workflowMarker(workflow: string): string {
  return `<!-- infeng-perf-comment workflow="${encodeURIComponent(workflow)}" -->`;
}

export function stickyBody(markdown: string, workflow: string): string {
  return `${workflowMarker(workflow)}\n${markdown}`;
}

export function findSticky(
  comments: readonly ExistingComment[],
  workflow: string,
  authors: readonly string[],
): ExistingComment | undefined {
  const marker = workflowMarker(workflow);
  return comments.find(
    (c) => (c.body ?? '').startsWith(marker) && c.user != null && authors.includes(c.user.login),
  );
}

/** Something a reviewer should see: a change, a failure, a lane that broke. */
export function hasNews(report: VerdictReport): boolean {
  return report.lanes.some(
    (l) =>
      l.error !== undefined ||
      l.verdicts.some((v) => ['regressed', 'improved', 'noisy', 'error', 'missing'].includes(v.state)),
  );
}

/**
 * `always`: create or update every run. `on-change`: create only when there is news, but keep
 * an existing comment current (else it would keep showing a regression that is fixed).
 * `never`: no comment.
 */
export function commentDecision(
  mode: CommentMode,
  existing: boolean,
  news: boolean,
): { post: boolean; reason?: string } {
  if (mode === 'never') return { post: false, reason: 'comment: never' };
  if (mode === 'on-change' && !existing && !news)
    return { post: false, reason: 'comment: on-change, and nothing changed' };
  return { post: true };
}

export async function upsertComment(
  client: GitHubClient,
  target: CommentTarget,
  body: string,
  options: { mode: CommentMode; news: boolean; workflow: string; authors: readonly string[] },
): Promise<CommentResult> {
  if (options.mode === 'never') return { action: 'skipped', reason: 'comment: never' };
  const comments = (await client.paginate(client.rest.issues.listComments, {
    owner: target.owner,
    repo: target.repo,
    issue_number: target.issue,
    per_page: 100,
  })) as ExistingComment[];
  const existing = findSticky(comments, options.workflow, options.authors);
  const decision = commentDecision(options.mode, existing !== undefined, options.news);
  if (!decision.post) return { action: 'skipped', ...(decision.reason ? { reason: decision.reason } : {}) };
  if (existing) {
    if (existing.body === body) return { action: 'unchanged', url: existing.html_url };
    const { data } = await client.rest.issues.updateComment({
      owner: target.owner,
      repo: target.repo,
      comment_id: existing.id,
      body,
    });
    return { action: 'updated', url: data.html_url };
  }
  const { data } = await client.rest.issues.createComment({
    owner: target.owner,
    repo: target.repo,
    issue_number: target.issue,
    body,
  });
  return { action: 'created', url: data.html_url };
}
