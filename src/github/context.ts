// Where a report goes: repository, pull request and the commit its checks belong on, read from
// the runner's environment and the event payload. Pure: the caller reads the files.
//
// Why not @actions/github's `context`: it reads the environment once at import time, and the
// facts that matter here differ by event. Check runs must land on the PR head commit (the
// commit the author pushed), not on GITHUB_SHA, which for pull_request is the temporary merge
// commit; under workflow_run the head commit and the workflow name are the triggering run's.
import { InputError } from '../errors.js';

export interface PullRequestRef {
  number: number;
  /** head repository differs from the base: the run's token is read-only */
  fork: boolean;
  headRepo: string;
}

/** The run that a workflow_run event reports on. */
export interface TriggeringRun {
  id: number;
  name: string;
  event: string;
  conclusion: string | null;
  headSha: string;
  headRepo: string;
  /** PRs GitHub links to the run; empty for PRs from forks, so the artifact's claim is checked instead */
  prNumbers: number[];
}

export interface RunContext {
  owner: string;
  repo: string;
  eventName: string;
  /** names the sticky comment: one comment per workflow and pull request */
  workflow: string;
  /** the commit check runs are attached to */
  headSha: string;
  pr?: PullRequestRef;
  triggeringRun?: TriggeringRun;
  /** link to this run's log, for the report's footer */
  runUrl?: string;
}

type Json = Record<string, unknown>;

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function fullName(repo: unknown): string | undefined {
  return str(obj(repo)?.full_name);
}

export function resolveContext(env: NodeJS.ProcessEnv, event: unknown): RunContext {
  const repository = env.GITHUB_REPOSITORY ?? '';
  const [owner, repo] = repository.split('/');
  if (!owner || !repo) {
    throw new InputError(`GITHUB_REPOSITORY must be "owner/repo", not "${repository}"`, {
      field: 'GITHUB_REPOSITORY',
    });
  }
  const eventName = env.GITHUB_EVENT_NAME ?? '';
  const payload = obj(event) ?? {};
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
  const runUrl = env.GITHUB_RUN_ID ? `${server}/${repository}/actions/runs/${env.GITHUB_RUN_ID}` : undefined;
  const base: RunContext = {
    owner,
    repo,
    eventName,
    workflow: env.GITHUB_WORKFLOW ?? 'perf',
    headSha: env.GITHUB_SHA ?? '',
    ...(runUrl ? { runUrl } : {}),
  };

  if (eventName === 'pull_request' || eventName === 'pull_request_target') {
    const pr = obj(payload.pull_request);
    const head = obj(pr?.head);
    const number = pr?.number;
    const sha = str(head?.sha);
    if (typeof number !== 'number' || !sha) {
      throw new InputError('the pull_request event has no pull_request.number or head.sha', {
        field: 'GITHUB_EVENT_PATH',
      });
    }
    // a deleted fork has head.repo null: still a fork
    const headRepo = fullName(head?.repo) ?? '';
    const baseRepo = fullName(obj(pr?.base)?.repo) ?? repository;
    return {
      ...base,
      headSha: sha,
      pr: { number, fork: headRepo.toLowerCase() !== baseRepo.toLowerCase(), headRepo },
    };
  }

  if (eventName === 'workflow_run') {
    const run = obj(payload.workflow_run);
    const sha = str(run?.head_sha);
    if (!run || !sha) {
      throw new InputError('the workflow_run event has no workflow_run.head_sha', {
        field: 'GITHUB_EVENT_PATH',
      });
    }
    const headRepo = fullName(run.head_repository) ?? '';
    const prs = Array.isArray(run.pull_requests) ? run.pull_requests : [];
    const triggeringRun: TriggeringRun = {
      id: typeof run.id === 'number' ? run.id : 0,
      name: str(run.name) ?? base.workflow,
      event: str(run.event) ?? '',
      conclusion: str(run.conclusion) ?? null,
      headSha: sha,
      headRepo,
      prNumbers: prs.map((p) => obj(p)?.number).filter((n): n is number => typeof n === 'number'),
    };
    // the comment belongs to the workflow that measured, so the marker carries its name
    return { ...base, workflow: triggeringRun.name, headSha: sha, triggeringRun };
  }

  return base;
}
