import type { Metadata } from '../metadata.js';

const NO_METADATA: Metadata = Object.freeze({}) as Metadata;

/** What an event handler gets besides the payload. */
export class EventContext {
  /** The topic the event was published on (not the pattern subscribed). */
  readonly topic: string;
  /** Metadata the publisher sent. */
  readonly metadata: Metadata;
  /** The service whose handler runs. */
  readonly service: string;

  constructor(topic: string, metadata: Metadata | undefined, service: string) {
    this.topic = topic;
    this.metadata = metadata ?? NO_METADATA;
    this.service = service;
  }
}
