// Check runs on the PR head commit: created `in_progress` when a lane starts, completed with
// the lane's conclusion and its report; a check that was never started (report mode, or the
// start failed) is created already completed. Annotations go out 50 per request, the API's
// limit: the completing request carries the first 50, follow-up updates the rest.
import type { GitHubClient } from '../github/client.js';
import { ANNOTATIONS_PER_REQUEST, chunk, type CheckPlan } from './check-plan.js';

export interface CheckTarget {
  owner: string;
  repo: string;
  headSha: string;
  /** link from the check to the run's log */
  detailsUrl?: string;
}

export async function startCheck(
  client: GitHubClient,
  target: CheckTarget,
  name: string,
  now: Date = new Date(),
): Promise<number> {
  const { data } = await client.rest.checks.create({
    owner: target.owner,
    repo: target.repo,
    name,
    head_sha: target.headSha,
    status: 'in_progress',
    started_at: now.toISOString(),
    ...(target.detailsUrl ? { details_url: target.detailsUrl } : {}),
    output: { title: 'running', summary: `${name}: the lane is running.` },
  });
  return data.id;
}

/** Completes the check `id`, or creates it completed when there is none; returns its URL. */
export async function completeCheck(
  client: GitHubClient,
  target: CheckTarget,
  plan: CheckPlan,
  id: number | undefined,
  now: Date = new Date(),
): Promise<string> {
  const [first = [], ...rest] = chunk(plan.annotations, ANNOTATIONS_PER_REQUEST);
  const output = (annotations: CheckPlan['annotations']) => ({
    title: plan.title,
    summary: plan.summary,
    ...(annotations.length > 0 ? { annotations } : {}),
  });
  const completion = {
    status: 'completed' as const,
    conclusion: plan.conclusion,
    completed_at: now.toISOString(),
    ...(target.detailsUrl ? { details_url: target.detailsUrl } : {}),
    output: output(first),
  };
  const base = { owner: target.owner, repo: target.repo };
  const create = () =>
    client.rest.checks.create({ ...base, name: plan.name, head_sha: target.headSha, ...completion });
  let data;
  if (id === undefined) ({ data } = await create());
  else {
    try {
      ({ data } = await client.rest.checks.update({ ...base, check_run_id: id, ...completion }));
    } catch (err) {
      // The started run cannot be completed (its update is refused or keeps failing): a new,
      // completed run of the same name on the same commit supersedes it, as GitHub shows and
      // branch protection takes the latest run of a name. A required check never stays pending.
      try {
        ({ data } = await create());
      } catch {
        throw err;
      }
    }
  }
  for (const annotations of rest) {
    await client.rest.checks.update({ ...base, check_run_id: data.id, output: output(annotations) });
  }
  return data.html_url ?? '';
}
