// /channels: list, read, edit, delete, and starting a stream on a channel.
import { z } from 'zod';
import { ChannelEntity, DeviceEntity, type ChannelRow } from '../storage/entities.ts';
import { ApiError, deviceFailure } from './errors.ts';
import type { RouteDeps } from './http-deps.ts';
import { listPage } from './list-query.ts';
import { channelResource, pickPublic } from './resources.ts';
import type { RouteRegistry } from './route-registry.ts';
import { unixNow } from './routes-devices.ts';
import { streamView } from './routes-streams.ts';
import { channelIdParams, channelSchema, listOf, listQuery, playBody, streamSchema, updateChannelBody } from './schemas.ts';

export async function findChannel(deps: RouteDeps, channelid: string): Promise<ChannelRow> {
  const row = await deps.dataSource.getRepository(ChannelEntity).findOneBy({ channelid });
  if (!row) throw new ApiError('notFound', `channel ${channelid} not found`);
  return row;
}

export function registerChannelRoutes(r: RouteRegistry, deps: RouteDeps): void {
  const channels = () => deps.dataSource.getRepository(ChannelEntity);

  r.add({
    method: 'get',
    path: '/channels',
    tag: 'channels',
    summary: 'List channels of every device (filters, sort, limit, skip)',
    query: listQuery,
    response: listOf(channelSchema),
    handler: ({ query }) => listPage(deps.dataSource, channelResource, query),
  });

  r.add({
    method: 'get',
    path: '/channels/:id',
    tag: 'channels',
    summary: 'One channel',
    params: channelIdParams,
    response: channelSchema,
    errors: [404],
    handler: async ({ params }) => pickPublic(channelResource, await findChannel(deps, params.id)),
  });

  r.add({
    method: 'post',
    path: '/channels/:id',
    tag: 'channels',
    summary: 'Edit a channel: name, memo, streamtype, url',
    params: channelIdParams,
    body: updateChannelBody,
    response: channelSchema,
    errors: [404],
    handler: async ({ params, body }) => {
      const current = await findChannel(deps, params.id);
      const patch: Partial<ChannelRow> = { uptime: unixNow() };
      if (body.name !== undefined) patch.name = body.name;
      if (body.memo !== undefined) patch.memo = body.memo;
      if (body.streamtype !== undefined) patch.streamtype = body.streamtype;
      if (body.url !== undefined) patch.url = body.url;
      if ((patch.streamtype ?? current.streamtype) === 'pull' && !(patch.url ?? current.url)) {
        throw new ApiError('badRequest', 'body.url is required when streamtype is pull');
      }
      await channels().update({ channelid: params.id }, patch);
      return pickPublic(channelResource, await findChannel(deps, params.id));
    },
  });

  r.add({
    method: 'delete',
    path: '/channels/:id',
    tag: 'channels',
    summary: 'Remove a channel',
    params: channelIdParams,
    response: z.object({ channelid: z.string() }),
    errors: [404],
    handler: async ({ params }) => {
      const row = await findChannel(deps, params.id);
      await channels().delete({ channelid: params.id });
      const count = await channels().countBy({ deviceid: row.deviceid });
      await deps.dataSource.getRepository(DeviceEntity).update({ deviceid: row.deviceid }, { channels: count });
      return { channelid: params.id };
    },
  });

  r.add({
    method: 'post',
    path: '/channels/:id/streams',
    tag: 'streams',
    summary: 'Play a channel: replay 0 = live (one shared stream per channel), 1 = playback of [start, end] (a new stream per call)',
    params: channelIdParams,
    body: playBody,
    response: streamSchema,
    errors: [404, 502],
    handler: async ({ params, body }) => {
      await findChannel(deps, params.id);
      if (!deps.play) throw new ApiError('serviceUnavailable', 'the play service is not running');
      if (body.replay === 1) {
        if (body.start === undefined || body.end === undefined) throw new ApiError('badRequest', 'body.start and body.end are required for playback');
        if (body.end <= body.start) throw new ApiError('badRequest', 'body.end must be after body.start');
      }
      let streamid: string;
      try {
        ({ streamid } = await deps.play.play(params.id, { replay: body.replay === 1 ? 1 : 0, start: body.start, end: body.end }));
      } catch (err) {
        deps.logger.warn({ err, channelid: params.id }, 'play failed');
        throw deviceFailure('play', err);
      }
      return streamView(deps, streamid);
    },
  });
}
