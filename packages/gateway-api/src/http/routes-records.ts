// Recordings on the device (RecordInfo), merged by the RecordService.
import { ApiError, deviceFailure } from './errors.ts';
import type { RouteDeps } from './http-deps.ts';
import type { RouteRegistry } from './route-registry.ts';
import { findChannel } from './routes-channels.ts';
import { channelIdParams, recordsQuery, recordsRange, recordsSchema } from './schemas.ts';

const maxRangeS = 31 * 86_400;

export function registerRecordRoutes(r: RouteRegistry, deps: RouteDeps): void {
  const query = async (channelid: string, start: number, end: number) => {
    if (end <= start) throw new ApiError('badRequest', 'query.end must be after query.start');
    if (end - start > maxRangeS) throw new ApiError('badRequest', 'query.start..end spans more than 31 days');
    await findChannel(deps, channelid);
    if (!deps.records) throw new ApiError('serviceUnavailable', 'the record service is not running');
    try {
      return await deps.records.query(channelid, start, end);
    } catch (err) {
      deps.logger.warn({ err, channelid }, 'record query failed');
      throw deviceFailure('record query', err);
    }
  };

  r.add({
    method: 'get',
    path: '/channels/:id/records',
    tag: 'records',
    summary: "Recordings on the device for a channel between start and end (Unix s), merged across the device's messages",
    params: channelIdParams,
    query: recordsRange,
    response: recordsSchema,
    errors: [404, 502],
    handler: ({ params, query: q }) => query(params.id, q.start, q.end),
  });

  r.add({
    method: 'get',
    path: '/records',
    tag: 'records',
    summary: 'Same as /channels/{id}/records with the channel in the query (gosip)',
    query: recordsQuery,
    response: recordsSchema,
    errors: [404, 502],
    handler: ({ query: q }) => query(q.channelid, q.start, q.end),
  });
}
