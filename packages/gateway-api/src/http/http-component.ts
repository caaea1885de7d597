// Plugs the REST app, the /events WebSocket and the webhooks into the platform's start/stop order
// (platform.ts PlatformHooks.createHttp). main.ts passes the EventBus that SIP and play publish on.
import type { PlatformContext } from '../platform.ts';
import type { EventBus } from '../events/event-bus.ts';
import { createWebhookDispatcher } from '../events/webhooks.ts';
import type { DeviceSignaling, PlayService, RecordService } from '../services.ts';
import { createHttpApp } from './app.ts';
import type { HttpComponent } from '../platform.ts';

export interface HttpComponentOptions {
  events: EventBus;
  play?: PlayService;
  records?: RecordService;
  signaling?: DeviceSignaling;
}

export function createHttpComponent(ctx: PlatformContext, o: HttpComponentOptions): HttpComponent {
  const { config } = ctx;
  const http = createHttpApp({
    dataSource: ctx.dataSource,
    config: { apiTokens: config.apiTokens, apiAuth: config.apiAuth, serverId: config.serverId, sipPublicIp: config.sipPublicIp, sipPort: config.sipPort },
    events: o.events,
    play: o.play,
    records: o.records,
    signaling: o.signaling,
    storageUp: () => ctx.storage.isUp(),
    onStorageError: (err) => ctx.storage.reportFailure(err),
    health: () => ctx.health(),
    counter: ctx.state,
    logger: ctx.logger.child({ component: 'http' }),
  });
  const webhooks = createWebhookDispatcher({ bus: o.events, targets: config.webhooks, secret: config.webhookSecret, logger: ctx.logger.child({ component: 'webhooks' }) });
  return {
    handler: http.app.callback(),
    attach: (server) => {
      http.attachWebSocket(server);
    },
    async close() {
      await webhooks.close();
      await http.close();
    },
  };
}
