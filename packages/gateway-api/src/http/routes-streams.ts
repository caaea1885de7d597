// /streams: list, read (with play URLs and live figures), stop.
import { z } from 'zod';
import { StreamEntity } from '../storage/entities.ts';
import { ApiError } from './errors.ts';
import type { RouteDeps } from './http-deps.ts';
import { listRows } from './list-query.ts';
import { pickPublic, streamResource } from './resources.ts';
import type { RouteRegistry } from './route-registry.ts';
import { listOf, listQuery, streamIdParams, streamSchema } from './schemas.ts';

const noUrls = { rtmp: '', flv: '', wsflv: '', http: '' };

/** The row with its play URLs and live figures; the live diagnosis is returned apart (single stream only). */
function withUrls(deps: RouteDeps, row: Record<string, unknown>): { view: Record<string, unknown>; liveDiagnosis?: unknown } {
  const id = String(row.streamid);
  const stats = deps.play?.liveStats(id);
  const { diagnosis: liveDiagnosis, ...live } = stats ?? {};
  return { view: { ...row, ...(deps.play ? deps.play.urls(id) : noUrls), ...(stats ? { live } : {}) }, liveDiagnosis };
}

export async function streamView(deps: RouteDeps, streamid: string): Promise<Record<string, unknown>> {
  const row = await deps.dataSource.getRepository(StreamEntity).findOneBy({ streamid });
  if (!row) throw new ApiError('notFound', `stream ${streamid} not found`);
  const { view, liveDiagnosis } = withUrls(deps, pickPublic(streamResource, row));
  return { ...view, transport: row.transport, port: row.port, diagnosis: liveDiagnosis ?? parseDiagnosis(row.diagnosis) };
}

export function registerStreamRoutes(r: RouteRegistry, deps: RouteDeps): void {
  r.add({
    method: 'get',
    path: '/streams',
    tag: 'streams',
    summary: 'List streams with state and play URLs (filters, sort, limit, skip)',
    query: listQuery,
    response: listOf(streamSchema),
    handler: async ({ query }) => {
      const page = await listRows(deps.dataSource, streamResource, query);
      return { total: page.total, list: page.list.map((row) => withUrls(deps, row).view) };
    },
  });

  r.add({
    method: 'get',
    path: '/streams/:id',
    tag: 'streams',
    summary: 'One stream (id = SSRC in hex) with state, diagnosis figures and play URLs',
    params: streamIdParams,
    response: streamSchema,
    errors: [404],
    handler: ({ params }) => streamView(deps, params.id),
  });

  r.add({
    method: 'delete',
    path: '/streams/:id',
    tag: 'streams',
    summary: 'Stop a stream: BYE to the device, media closed',
    params: streamIdParams,
    response: z.object({ streamid: z.string() }),
    errors: [404],
    handler: async ({ params }) => {
      await streamView(deps, params.id);
      if (!deps.play) throw new ApiError('serviceUnavailable', 'the play service is not running');
      await deps.play.stop(params.id, 'stopped through the API');
      return { streamid: params.id };
    },
  });
}

/** The play service's JSON diagnosis (SDP, steps, first packet, last error); {} when absent or unreadable. */
function parseDiagnosis(text: string | null): Record<string, unknown> {
  try {
    const v: unknown = text ? JSON.parse(text) : {};
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
