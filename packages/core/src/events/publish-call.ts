import type { Call } from '../filter/filter.js';
import type { Metadata } from '../metadata.js';
import type { Channel } from '../transport/transport.js';

/**
 * What a client's call filters see of a publish (Client.publish with ClientOptions.filters):
 * `kind` 'event', `topic`, the payload as `request` (a filter may replace it), and a writable
 * copy of the metadata (a filter may add to it, e.g. a trace context). There is no service or
 * method: a publisher does not know who subscribes, so both are ''.
 */
export class PublishCall implements Call {
  readonly side = 'client' as const;
  readonly service = '';
  readonly method = '';
  /** The topic to publish on. */
  readonly topic: string;
  request: unknown;
  readonly metadata: Metadata;
  /** Events have no deadline: always 0. */
  readonly deadline = 0;
  /** @internal Where the event goes once the filters let it through. */
  readonly channel: Channel;
  private controller: AbortController | undefined = undefined;

  constructor(topic: string, payload: unknown, metadata: Metadata, channel: Channel) {
    this.topic = topic;
    this.request = payload;
    this.metadata = metadata;
    this.channel = channel;
  }

  get kind(): 'event' {
    return 'event';
  }

  /** A publish is not cancelled: it never fires. */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }
}
