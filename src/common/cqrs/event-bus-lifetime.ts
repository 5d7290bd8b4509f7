import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { EventBus } from '@nestjs/cqrs';

/**
 * Keeps the event handlers subscribed until the application has shut down.
 *
 * @nestjs/cqrs unsubscribes every event handler in EventBus.onModuleDestroy, and Nest runs every
 * onModuleDestroy before any beforeApplicationShutdown: the hooks where Parley drains, letting
 * frames and requests in flight finish (ConnectionManager, SendMessageHandler, HttpShutdown). A
 * message stored in that window was acknowledged but never announced: not to local sockets, not
 * to other instances. So the unsubscription is moved to onApplicationShutdown, after the drain.
 */
@Injectable()
export class EventBusLifetime implements OnApplicationShutdown {
  private readonly unsubscribe: () => void;

  constructor(bus: EventBus) {
    this.unsubscribe = bus.onModuleDestroy.bind(bus);
    bus.onModuleDestroy = () => undefined;
  }

  onApplicationShutdown(): void {
    this.unsubscribe();
  }
}
