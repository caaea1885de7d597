// One declaration per route: its zod schemas validate the request and also feed the OpenAPI
// document, so the documentation cannot drift from what the code accepts.
import type { Router, RouterContext } from '@koa/router';
import { z } from 'zod';
import { ApiError, okCode } from './errors.ts';
import { envelopeText, JsonText } from './json-text.ts';

export type HttpMethod = 'get' | 'post' | 'patch' | 'delete';

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: HttpMethod;
  path: string; // koa-router form, `/devices/:id`
  summary: string;
  tag: string;
  /** false for the few open routes (`/health`). */
  auth?: boolean;
  params?: P;
  query?: Q;
  body?: B;
  /** Schema of the envelope's `data` on success. */
  response: z.ZodType;
  status?: number;
  /** Error statuses this route can answer besides 400/401/500/503. */
  errors?: number[];
  /** Not enveloped: the handler sets ctx.body itself (metrics text, the OpenAPI document, HTML). */
  raw?: { contentType: string };
  handler: (input: { params: z.output<P>; query: z.output<Q>; body: z.output<B>; ctx: RouterContext }) => Promise<unknown>;
}

export interface DocumentedRoute {
  method: HttpMethod;
  path: string;
  summary: string;
  tag: string;
  auth: boolean;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  response: z.ZodType;
  status: number;
  errors: number[];
  raw?: { contentType: string };
}

export function issueMessage(err: z.ZodError, where: string): string {
  const issue = err.issues[0];
  if (!issue) return `${where} is invalid`;
  const path = issue.path.length ? `${where}.${issue.path.join('.')}` : where;
  if (issue.code === 'unrecognized_keys') return `${path} has unknown fields: ${issue.keys.filter((k) => /^[A-Za-z_][A-Za-z0-9_]{0,31}$/.test(k)).join(', ') || '(unprintable)'}`;
  return `${path}: ${issue.message}`;
}

function validate<S extends z.ZodType>(schema: S | undefined, value: unknown, where: string): z.output<S> {
  if (!schema) return undefined as z.output<S>;
  const r = schema.safeParse(value ?? {});
  if (!r.success) throw new ApiError('badRequest', issueMessage(r.error, where));
  return r.data;
}

export class RouteRegistry {
  readonly routes: DocumentedRoute[] = [];
  constructor(private readonly router: Router) {}

  add<P extends z.ZodType = z.ZodUndefined, Q extends z.ZodType = z.ZodUndefined, B extends z.ZodType = z.ZodUndefined>(spec: RouteSpec<P, Q, B>): void {
    const status = spec.status ?? 200;
    this.routes.push({
      method: spec.method,
      path: spec.path,
      summary: spec.summary,
      tag: spec.tag,
      auth: spec.auth ?? true,
      params: spec.params,
      query: spec.query,
      body: spec.body,
      response: spec.response,
      status,
      errors: spec.errors ?? [],
      raw: spec.raw,
    });
    const handler = async (ctx: RouterContext): Promise<void> => {
      const params = validate(spec.params, ctx.params, 'path');
      const query = validate(spec.query, ctx.query, 'query');
      const body = validate(spec.body, (ctx.request as { body?: unknown }).body, 'body');
      const data = await spec.handler({ params, query, body, ctx });
      if (spec.raw) return;
      ctx.status = status;
      if (data instanceof JsonText) {
        ctx.type = 'application/json';
        ctx.body = envelopeText(okCode, ctx.state.msgid as string, data);
      } else ctx.body = { code: okCode, msgid: ctx.state.msgid as string, data };
    };
    switch (spec.method) {
      case 'get':
        this.router.get(spec.path, handler);
        break;
      case 'post':
        this.router.post(spec.path, handler);
        break;
      case 'patch':
        this.router.patch(spec.path, handler);
        break;
      case 'delete':
        this.router.delete(spec.path, handler);
        break;
    }
  }
}
