// The real components main.ts plugs into createPlatform: sip-core's server (with the database-backed
// device registry), the media engine, and the REST app with the play and record services. Close
// order (reverse of start): REST + play first, so every open stream is hung up while SIP and media
// still run, then media, then SIP.
import type { Server } from 'node:http';
import { join } from 'node:path';
import { MediaEngine } from '@gb28181/media';
import { createSipServer, type SipServer } from '@gb28181/sip-core';
import { attachDeviceRegistry, createCredentialStore, type DeviceRegistry } from './device-registry.ts';
import { EventBus } from './events/event-bus.ts';
import { createWebhookDispatcher } from './events/webhooks.ts';
import { createHttpApp } from './http/app.ts';
import { startPlayServices } from './play/play-services.ts';
import type { HttpComponent, MediaComponent, PlatformContext, PlatformHooks, SipComponent } from './platform.ts';

export interface RealSipComponent extends SipComponent {
  server: SipServer;
  registry: DeviceRegistry;
}

export interface RealMediaComponent extends MediaComponent {
  engine: MediaEngine;
}

export function createPlatformHooks(): PlatformHooks & { events: EventBus } {
  const events = new EventBus();
  return {
    events,

    async startSip(ctx: PlatformContext): Promise<RealSipComponent> {
      const c = ctx.config;
      const server = await createSipServer({
        serverId: c.serverId,
        host: c.sipHost,
        port: c.sipPort,
        publicIp: c.sipPublicIp,
        registerPolicy: c.registerPolicy,
        globalPassword: c.sipPassword,
        keepaliveTimeoutS: c.keepaliveTimeoutS,
        nonceSecret: c.sipNonceSecret,
        credentials: createCredentialStore(ctx.dataSource, c),
        presence: ctx.presence,
        logger: ctx.logger.child({ part: 'sip' }),
      });
      const registry = attachDeviceRegistry({ db: ctx.dataSource, sip: server, config: c, events, logger: ctx.logger });
      return {
        server,
        registry,
        health: () => ({ udp: true, tcp: true, port: server.port, listening: true, wired: true, devices: server.devices().length }),
        close: async () => {
          await registry.close();
          await server.close();
        },
      };
    },

    async startMedia(ctx: PlatformContext): Promise<RealMediaComponent> {
      const c = ctx.config;
      const engine = await MediaEngine.create({
        bindIp: c.sipHost,
        rtpPorts: c.rtpPorts,
        httpPort: c.mediaHttpPort,
        rtmpPort: c.mediaRtmpPort,
        dataDir: join(c.dataDir, 'media'),
        hlsDir: c.mediaHlsDir,
        noViewerCloseS: c.noViewerCloseS,
        firstPacketTimeoutS: c.playTimeoutS,
        ingestWorkers: c.mediaIngestWorkers,
        playSecret: c.mediaPlaySecret,
        logger: ctx.logger.child({ part: 'media' }),
      });
      return {
        engine,
        health: () => ({
          http: engine.httpPort ?? c.mediaHttpPort,
          rtmp: engine.rtmpPort ?? c.mediaRtmpPort,
          rtpPorts: c.rtpPorts.join('-'),
          listening: true,
          wired: true,
          streams: engine.streamCount,
        }),
        close: () => engine.close(),
      };
    },

    async createHttp(ctx): Promise<HttpComponent> {
      const sip = ctx.sip as RealSipComponent | undefined;
      const media = ctx.media as RealMediaComponent | undefined;
      const play =
        sip && media
          ? await startPlayServices({
              config: ctx.config,
              dataSource: ctx.dataSource,
              state: ctx.state,
              sip: sip.server,
              media: media.engine,
              singleNode: !ctx.config.redisUrl,
              events,
              logger: ctx.logger,
            })
          : undefined;
      const app = createHttpApp({
        dataSource: ctx.dataSource,
        config: { apiTokens: ctx.config.apiTokens, apiAuth: ctx.config.apiAuth, serverId: ctx.config.serverId, sipPublicIp: ctx.config.sipPublicIp, sipPort: ctx.config.sipPort },
        play: play?.play,
        records: play?.records,
        signaling: sip?.registry,
        events,
        storageUp: () => ctx.storage.isUp(),
        onStorageError: (err) => ctx.storage.reportFailure(err),
        health: () => ctx.health(),
        counter: ctx.state,
        logger: ctx.logger.child({ part: 'http' }),
        listWorker: ctx.config.apiListWorker,
      });
      const webhooks = createWebhookDispatcher({ bus: events, targets: ctx.config.webhooks, secret: ctx.config.webhookSecret, logger: ctx.logger.child({ part: 'webhooks' }) });
      return {
        handler: app.app.callback(),
        attach: (server: Server) => {
          app.attachWebSocket(server);
        },
        close: async () => {
          await play?.close();
          await webhooks.close();
          await app.close();
        },
      };
    },
  };
}
