import { FanOut, type FanOutListener, type FanOutMessage } from '../fan-out.js';

/** One instance: publishing is handing the message to this instance's own listener. */
export class InProcessFanOut extends FanOut {
  readonly mode = 'in-process';
  private listener: FanOutListener = () => undefined;

  listen(listener: FanOutListener): void {
    this.listener = listener;
  }

  async publish(message: FanOutMessage): Promise<void> {
    this.listener(message);
  }
}
