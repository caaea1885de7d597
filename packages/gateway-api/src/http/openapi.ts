// The OpenAPI 3 document, generated from the same zod schemas that validate each route.
import { z } from 'zod';
import { apiErrors } from './errors.ts';
import type { DocumentedRoute } from './route-registry.ts';

type JsonSchema = Record<string, unknown>;

function schemaOf(s: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const out = z.toJSONSchema(s, { target: 'openapi-3.0', io, unrepresentable: 'any' }) as JsonSchema;
  delete out.$schema;
  return out;
}

function parametersOf(s: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!s) return [];
  const js = schemaOf(s, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, schema]) => ({
    name,
    in: where,
    required: where === 'path' || (js.required ?? []).includes(name),
    ...(typeof schema.description === 'string' ? { description: schema.description } : {}),
    schema,
  }));
}

const statusText: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  400: 'Bad request: the message names the field or filter at fault',
  401: 'Missing or wrong bearer token',
  404: 'Not found',
  409: 'Conflict',
  500: 'Internal error',
  502: 'The device failed the request',
  503: 'Storage or a platform service unavailable',
};

function envelope(data: JsonSchema): JsonSchema {
  return {
    type: 'object',
    required: ['code', 'msgid', 'data'],
    properties: { code: { type: 'string', description: '"0" ok, "1000" auth, "1001" storage, "1002" request, "1003" internal' }, msgid: { type: 'string' }, data },
  };
}

export function buildOpenApi(routes: DocumentedRoute[], info: { title: string; version: string }): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const errorEnvelope = envelope({ type: 'string', description: 'what went wrong' });
  for (const r of routes) {
    const path = r.path.replace(/:(\w+)/g, '{$1}');
    const responses: Record<string, JsonSchema> = {
      [r.status]: {
        description: statusText[r.status] ?? 'OK',
        content: r.raw ? { [r.raw.contentType]: { schema: schemaOf(r.response, 'output') } } : { 'application/json': { schema: envelope(schemaOf(r.response, 'output')) } },
      },
    };
    const errorStatuses = new Set([400, 500, 503, ...(r.auth ? [401] : []), ...r.errors]);
    for (const s of [...errorStatuses].sort()) {
      responses[s] = { description: statusText[s] ?? 'Error', content: { 'application/json': { schema: errorEnvelope } } };
    }
    const op: JsonSchema = {
      operationId: `${r.method}${path.replace(/[{}]/g, '').replace(/\/(\w)/g, (_, c: string) => c.toUpperCase())}`,
      summary: r.summary,
      tags: [r.tag],
      security: r.auth ? [{ bearer: [] }] : [],
      parameters: [...parametersOf(r.params, 'path'), ...parametersOf(r.query, 'query')],
      responses,
    };
    if (r.body) {
      const body = schemaOf(r.body, 'input');
      op.requestBody = { required: true, content: { 'application/json': { schema: body }, 'application/x-www-form-urlencoded': { schema: body } } };
    }
    (paths[path] ??= {})[r.method] = op;
  }
  return {
    openapi: '3.0.3',
    info: {
      ...info,
      description: [
        'GB28181 gateway REST API, gosip-compatible. Every answer is `{code, msgid, data}`; on error `data` names the problem.',
        'Failure kinds (HTTP status/code): ' + Object.entries(apiErrors).map(([k, v]) => `${k} ${v.status}/${v.code}`).join(', ') + '.',
        'Events: WebSocket `/events?token=<token>[&events=devices.*,streams.stop]` sends `{method, data, time, id}` per event;',
        'webhooks POST the same JSON with `x-gb-signature: sha256=HMAC(secret, x-gb-timestamp + "." + body)`.',
      ].join(' '),
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}
