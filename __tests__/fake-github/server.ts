// A loopback HTTP server playing the GitHub REST API for the endpoints the bot uses: issue
// comments, check runs, pull requests. Every request is matched against GitHub's OpenAPI
// description and validated (path, query, body); every response it sends is validated
// against the operation's response schema. Anything off is recorded in `problems`, which the
// tests expect to stay empty, and answered the way GitHub would (404 or 422).
//
// Failure injection plays what the real API does to a bot: 403 for a fork's read-only token,
// 5xx for a bad moment, a secondary rate limit (403 with `retry-after` while the primary limit
// has plenty left), an exhausted primary limit, a connection reset, a request never answered;
// each for the next N requests to an operation, optionally only after it answered M normally.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  example,
  loadSpec,
  match,
  responseSchema,
  validate,
  validateRequest,
  type Operation,
} from './openapi.js';

type Json = Record<string, unknown>;

export interface RecordedRequest {
  method: string;
  path: string;
  operationId: string;
  body: unknown;
  status: number;
  authorization: string | undefined;
}

export interface Fault {
  /** the operation it hits ('graphql' for the GraphQL endpoint), or '*' for every request */
  operationId: string;
  /**
   * `status` (the default) answers with `status`; `reset` destroys the connection without an
   * answer; `hang` reads the request and never answers (until the server stops)
   */
  kind?: 'status' | 'reset' | 'hang';
  status?: number;
  /** how many times; Infinity for always */
  times: number;
  /** let this many matching requests through first ("fails after N requests") */
  after?: number;
  message?: string;
  /** extra response headers, e.g. retry-after or x-ratelimit-* */
  headers?: Record<string, string>;
}

/** GitHub's answer to too many writes too fast: 403, `retry-after`, and requests left. */
export function secondaryRateLimit(operationId: string, times: number, retryAfterS = 1): Fault {
  return {
    operationId,
    status: 403,
    times,
    message:
      'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.',
    headers: { 'retry-after': String(retryAfterS) },
  };
}

/** The primary limit used up: 403 with `x-ratelimit-remaining: 0` and the reset time. */
export function primaryRateLimit(operationId: string, times: number, resetInS = 1): Fault {
  return {
    operationId,
    status: 403,
    times,
    message: 'API rate limit exceeded for installation ID 1.',
    headers: {
      'x-ratelimit-remaining': '0',
      'x-ratelimit-used': '5000',
      'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + resetInS),
    },
  };
}

interface Comment {
  issue: number;
  data: Json;
}

/** GitHub's limit on a comment body, in characters. */
export const COMMENT_MAX = 65_536;
/** GitHub's limits on a check run's output: summary and text in bytes, titles in characters. */
export const CHECK_OUTPUT_MAX_BYTES = 65_535;
export const ANNOTATION_TITLE_MAX = 255;
export const ANNOTATION_MESSAGE_MAX_BYTES = 65_536;

export class FakeGitHub {
  readonly requests: RecordedRequest[] = [];
  readonly problems: string[] = [];
  readonly comments = new Map<number, Comment>();
  readonly checkRuns = new Map<number, Json>();
  /** pull number → head commit and head repository */
  readonly pulls = new Map<number, { headSha: string; headRepo: string }>();
  faults: Fault[] = [];
  /** x-ratelimit-* headers of every answer (a fault's headers override them) */
  rateLimit = { limit: 5000, remaining: 4999, used: 1, reset: Math.floor(Date.now() / 1000) + 3600 };
  /** answers held back by a `hang` fault, released when the server stops */
  private readonly hanging = new Set<http.ServerResponse>();
  /** the login comments are created as: GITHUB_TOKEN comments as github-actions[bot] */
  botLogin = 'github-actions[bot]';
  private server?: http.Server;
  private nextId = 1000;
  private readonly spec = loadSpec();

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Adds a comment someone else wrote (to prove the bot leaves it alone). */
  seedComment(issue: number, body: string, login: string): number {
    const op = this.op('issues/create-comment');
    const data = this.commentData(op, issue, body, login);
    this.comments.set(data.id as number, { issue, data });
    return data.id as number;
  }

  callsTo(operationId: string): RecordedRequest[] {
    return this.requests.filter((r) => r.operationId === operationId);
  }

  private op(operationId: string): Operation {
    const op = this.spec.operations.find((o) => o.operationId === operationId);
    if (!op) throw new Error(`no operation ${operationId}`);
    return op;
  }

  /**
   * The one GraphQL query the bot sends, `viewer { login }`: every token may ask it, and it
   * answers the account the token comments as. Anything else is a problem of the test.
   */
  private graphql(req: http.IncomingMessage, body: unknown, res: http.ServerResponse): void {
    const query = (body as { query?: unknown } | undefined)?.query;
    this.requests.push({
      method: 'POST',
      path: '/graphql',
      operationId: 'graphql',
      body,
      status: 200,
      authorization: req.headers.authorization,
    });
    const fault = this.takeFault('graphql');
    if (fault) return this.inject(fault, res, undefined);
    if (
      !req.headers.authorization ||
      typeof query !== 'string' ||
      !/^query\s*\{\s*viewer\s*\{\s*login\s*\}\s*\}$/.test(query)
    ) {
      this.problems.push(`graphql: unexpected request ${JSON.stringify(body)}`);
      return this.send(res, undefined, 400, { message: 'Problems parsing JSON' });
    }
    return this.send(res, undefined, 200, { data: { viewer: { login: this.botLogin } } });
  }

  private handle(req: http.IncomingMessage, text: string, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      this.problems.push(`${method} ${url.pathname}: body is not JSON`);
      return this.send(res, undefined, 400, { message: 'Problems parsing JSON' });
    }
    if (method === 'POST' && url.pathname === '/graphql') return this.graphql(req, body, res);
    const found = match(this.spec, method, url.pathname);
    const record = (status: number, operationId: string) =>
      this.requests.push({
        method,
        path: url.pathname,
        operationId,
        body,
        status,
        authorization: req.headers.authorization,
      });
    if (!found) {
      this.problems.push(`${method} ${url.pathname}: not an operation of the GitHub REST API`);
      record(404, '');
      return this.send(res, undefined, 404, { message: 'Not Found' });
    }
    const { op, params } = found;
    const invalid = validateRequest(op, params, url.searchParams, body);
    if (!req.headers.authorization) invalid.push('no authorization header');
    if (invalid.length > 0) {
      this.problems.push(`${op.operationId}: ${invalid.join('; ')}`);
      record(422, op.operationId);
      return this.send(res, op, 422, {
        message: 'Validation Failed',
        documentation_url: 'https://docs.github.com/rest',
      });
    }
    const fault = this.takeFault(op.operationId);
    if (fault) {
      record(fault.kind === 'hang' || fault.kind === 'reset' ? 0 : (fault.status ?? 500), op.operationId);
      return this.inject(fault, res, op);
    }
    const [status, data] = this.answer(op, params, body as Json | undefined);
    record(status, op.operationId);
    this.send(res, op, status, data);
  }

  /** The fault this request meets, counting it: `after` requests pass, then `times` fail. */
  private takeFault(operationId: string): Fault | undefined {
    for (const f of this.faults) {
      if (f.operationId !== operationId && f.operationId !== '*') continue;
      if ((f.after ?? 0) > 0) {
        f.after = (f.after ?? 0) - 1;
        continue;
      }
      if (f.times > 0) {
        f.times -= 1;
        return f;
      }
    }
    return undefined;
  }

  private inject(fault: Fault, res: http.ServerResponse, op: Operation | undefined): void {
    if (fault.kind === 'hang') {
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      return;
    }
    if (fault.kind === 'reset') {
      res.socket?.destroy();
      return;
    }
    const status = fault.status ?? 500;
    this.send(
      res,
      op,
      status,
      {
        message:
          fault.message ?? (status === 403 ? 'Resource not accessible by integration' : 'Server Error'),
        documentation_url: 'https://docs.github.com/rest',
        status: String(status),
      },
      fault.headers,
    );
  }

  private answer(op: Operation, params: Record<string, string>, body: Json | undefined): [number, unknown] {
    const owner = params.owner ?? '';
    const repo = params.repo ?? '';
    switch (op.operationId) {
      case 'issues/list-comments': {
        const issue = Number(params.issue_number);
        return [200, [...this.comments.values()].filter((c) => c.issue === issue).map((c) => c.data)];
      }
      case 'issues/create-comment': {
        const issue = Number(params.issue_number);
        const text = String(body?.body ?? '');
        if (text.length > COMMENT_MAX) return this.tooLong('body', text.length, COMMENT_MAX);
        const data = this.commentData(op, issue, text, this.botLogin, owner, repo);
        this.comments.set(data.id as number, { issue, data });
        return [201, data];
      }
      case 'issues/update-comment': {
        const c = this.comments.get(Number(params.comment_id));
        if (!c) return [404, { message: 'Not Found' }];
        const text = String(body?.body ?? '');
        if (text.length > COMMENT_MAX) return this.tooLong('body', text.length, COMMENT_MAX);
        // GitHub refuses to edit another user's comment for a bot token
        if ((c.data.user as Json).login !== this.botLogin)
          return [403, { message: 'Must have admin rights to Repository.' }];
        c.data.body = text;
        c.data.updated_at = new Date().toISOString();
        return [200, c.data];
      }
      case 'checks/create': {
        const refused = this.checkOutputTooLong(body);
        if (refused) return refused;
        const data = example(op, 201, 'example-of-completed-conclusion');
        const id = this.nextId++;
        Object.assign(data, {
          id,
          name: body?.name,
          head_sha: body?.head_sha,
          external_id: '',
          url: `https://api.github.com/repos/${owner}/${repo}/check-runs/${id}`,
          html_url: `https://github.com/${owner}/${repo}/runs/${id}`,
          details_url: body?.details_url ?? null,
          status: body?.status ?? 'queued',
          conclusion: body?.conclusion ?? null,
          started_at: body?.started_at ?? new Date().toISOString(),
          completed_at: body?.completed_at ?? null,
          pull_requests: [],
        });
        this.applyOutput(data, body);
        this.checkRuns.set(id, data);
        return [201, data];
      }
      case 'checks/update': {
        const data = this.checkRuns.get(Number(params.check_run_id));
        if (!data) return [404, { message: 'Not Found' }];
        const refused = this.checkOutputTooLong(body);
        if (refused) return refused;
        for (const k of ['status', 'conclusion', 'completed_at', 'details_url'] as const) {
          if (body?.[k] !== undefined) data[k] = body[k];
        }
        this.applyOutput(data, body);
        return [200, data];
      }
      case 'pulls/get': {
        const pr = this.pulls.get(Number(params.pull_number));
        if (!pr) return [404, { message: 'Not Found' }];
        const data = example(op, 200);
        const head = data.head as Json;
        // GitHub's own example fails its schema here (requested_teams[0] has no `type`)
        Object.assign(data, { number: Number(params.pull_number), requested_teams: [] });
        Object.assign(head, { sha: pr.headSha });
        Object.assign(head.repo as Json, { full_name: pr.headRepo });
        return [200, data];
      }
      case 'users/get-authenticated':
        // what GitHub answers an installation token (GITHUB_TOKEN)
        return [
          403,
          {
            message: 'Resource not accessible by integration',
            documentation_url: 'https://docs.github.com/rest',
          },
        ];
      default:
        this.problems.push(`${op.operationId}: the fake does not play this operation`);
        return [404, { message: 'Not Found' }];
    }
  }

  /** Keeps what the API keeps: output text, and annotations appended across requests. */
  private applyOutput(data: Json, body: Json | undefined): void {
    const out = body?.output as Json | undefined;
    if (!out) return;
    const store = data.output as Json;
    store.title = out.title ?? store.title;
    store.summary = out.summary ?? store.summary;
    const kept = (data._annotations as unknown[] | undefined) ?? [];
    const added = (out.annotations as unknown[] | undefined) ?? [];
    Object.defineProperty(data, '_annotations', {
      value: [...kept, ...added],
      enumerable: false,
      writable: true,
    });
    store.annotations_count = kept.length + added.length;
  }

  private commentData(
    op: Operation,
    issue: number,
    body: string,
    login: string,
    owner = 'o',
    repo = 'r',
  ): Json {
    const data = example(
      op.operationId === 'issues/create-comment' ? op : this.op('issues/create-comment'),
      201,
    );
    const id = this.nextId++;
    Object.assign(data, {
      id,
      body,
      html_url: `https://github.com/${owner}/${repo}/pull/${issue}#issuecomment-${id}`,
      url: `https://api.github.com/repos/${owner}/${repo}/issues/comments/${id}`,
      issue_url: `https://api.github.com/repos/${owner}/${repo}/issues/${issue}`,
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
    });
    Object.assign(data.user as Json, { login, type: login.endsWith('[bot]') ? 'Bot' : 'User' });
    return data;
  }

  /** GitHub refuses (422) a check run whose output is over its limits, counted as it counts them. */
  private checkOutputTooLong(body: Json | undefined): [number, unknown] | undefined {
    const out = body?.output as Json | undefined;
    if (!out) return undefined;
    for (const field of ['summary', 'text'] as const) {
      const text = out[field];
      if (typeof text !== 'string') continue;
      const bytes = Buffer.byteLength(text, 'utf8');
      if (bytes > CHECK_OUTPUT_MAX_BYTES)
        return this.tooLong(`output.${field}`, bytes, CHECK_OUTPUT_MAX_BYTES, 'CheckRun', 'bytes');
    }
    for (const [i, a] of ((out.annotations as Json[] | undefined) ?? []).entries()) {
      const title = typeof a.title === 'string' ? a.title : '';
      if ([...title].length > ANNOTATION_TITLE_MAX)
        return this.tooLong(
          `output.annotations[${i}].title`,
          [...title].length,
          ANNOTATION_TITLE_MAX,
          'CheckRun',
        );
      const bytes = Buffer.byteLength(String(a.message ?? ''), 'utf8');
      if (bytes > ANNOTATION_MESSAGE_MAX_BYTES)
        return this.tooLong(
          `output.annotations[${i}].message`,
          bytes,
          ANNOTATION_MESSAGE_MAX_BYTES,
          'CheckRun',
          'bytes',
        );
    }
    return undefined;
  }

  private tooLong(
    field: string,
    length: number,
    max: number,
    resource = 'IssueComment',
    unit: 'characters' | 'bytes' = 'characters',
  ): [number, unknown] {
    this.problems.push(`${field} of ${length} ${unit} is over GitHub's ${max}`);
    return [
      422,
      {
        message: 'Validation Failed',
        errors: [
          {
            resource,
            code: 'custom',
            field,
            message: `${field} is too long (maximum is ${max} ${unit})`,
          },
        ],
      },
    ];
  }

  private send(
    res: http.ServerResponse,
    op: Operation | undefined,
    status: number,
    data: unknown,
    headers: Record<string, string> = {},
  ): void {
    if (op) {
      const schema = responseSchema(this.spec, op, status);
      if (schema) {
        const errors = validate(schema, data);
        if (errors.length > 0)
          this.problems.push(`response of ${op.operationId} ${status}: ${errors.join('; ')}`);
      }
    }
    const text = JSON.stringify(data);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'x-github-media-type': 'github.v3; format=json',
      'x-ratelimit-limit': String(this.rateLimit.limit),
      'x-ratelimit-remaining': String(this.rateLimit.remaining),
      'x-ratelimit-used': String(this.rateLimit.used),
      'x-ratelimit-reset': String(this.rateLimit.reset),
      'x-ratelimit-resource': 'core',
      ...headers,
    });
    res.end(text);
  }
}
