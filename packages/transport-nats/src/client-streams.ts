import type { Msg, NatsConnection, PublishOptions, Subscription } from 'nats';
import { RpcError } from '@svc/core';
import { CallTable, errors, type MetadataLimits, type RequestMessage, type StreamReceiver, type StreamSender } from '@svc/core/transport';
import { ClientStreamLink, NO_STREAM_SENDER, type ClientStreamHost } from './client-stream-link.js';
import type { SharedConnection } from './shared-connection.js';
import { StreamSweep, type StreamHeartbeat } from './stream-heartbeat.js';
import { clientStreamsSubject, clientStreamSubject } from './subjects.js';

/** What a channel's streams are given by the transport's options. */
export interface ClientStreamOptions {
  readonly heartbeat: StreamHeartbeat;
  readonly maxFrameSize: number;
  readonly metadataLimits: MetadataLimits;
}

/**
 * The streams of one NatsChannel: their links by id, one subscription for the server's messages of
 * all of them (`<inbox>.s.*`, under the channel's own inbox, so a client allowed only its inbox
 * prefix can stream), and one heartbeat timer. Ids are the channel's own: they name the subject
 * each stream's server messages come to.
 */
export class ClientStreams implements ClientStreamHost {
  readonly address: string;
  readonly instance: string | undefined;
  readonly heartbeatTimeout: number;
  readonly maxFrameSize: number;
  readonly metadataLimits: MetadataLimits;
  private readonly links = new CallTable<number, ClientStreamLink>();
  private readonly sweep: StreamSweep;
  private nc: NatsConnection | undefined = undefined;
  private sub: Subscription | undefined = undefined;
  private subscribedInbox: string | undefined = undefined;
  private nextId = 1;

  constructor(address: string, instance: string | undefined, options: ClientStreamOptions) {
    this.address = address;
    this.instance = instance;
    this.heartbeatTimeout = options.heartbeat.timeout;
    this.maxFrameSize = options.maxFrameSize;
    this.metadataLimits = options.metadataLimits;
    this.sweep = new StreamSweep(options.heartbeat, () => this.links.values());
  }

  get size(): number {
    return this.links.size;
  }

  /**
   * Opens a stream over `shared`: its first message goes to `openSubject` once connected (at once
   * when it is; the first connect is waited for). While the connection is down it fails at once
   * with UNAVAILABLE (not_sent): a stream's messages cannot wait for a reconnect.
   */
  open(request: RequestMessage, receiver: StreamReceiver, shared: SharedConnection, inbox: string, openSubject: string): StreamSender {
    if (shared.nc !== undefined && !shared.connected) return refused(receiver, errors.notConnected(this.address, 'the connection to NATS is down; reconnecting'));
    const id = this.newId();
    let link: ClientStreamLink;
    try {
      link = new ClientStreamLink(id, request, receiver, clientStreamSubject(inbox, id), this);
    } catch (error) {
      return refused(receiver, RpcError.from(error).withProgress('not_sent'));
    }
    this.links.set(id, link);
    this.sweep.start();
    const nc = shared.nc;
    if (nc !== undefined) this.connected(nc, inbox, link, openSubject);
    else {
      shared.ready.then(
        (ready) => this.connected(ready, inbox, link, openSubject),
        (error: Error) => link.fail(errors.notConnected(this.address, error.message)),
      );
    }
    return link;
  }

  /** Every stream fails with `error`; with `cancel` the servers hear a CANCEL (the channel closes, the connection is still up). */
  failAll(error: RpcError, cancel: boolean): void {
    for (const link of this.links.values()) link.fail(error, cancel);
    this.sweep.stop();
  }

  /** The connection closed for good: every stream fails, and the next one subscribes afresh. */
  reset(error: RpcError): void {
    this.failAll(error, false);
    this.sub = undefined;
    this.subscribedInbox = undefined;
    this.nc = undefined;
  }

  /** The channel closes: streams are cancelled on the wire, the subscription goes. */
  close(error: RpcError): void {
    this.failAll(error, true);
    this.sub?.unsubscribe();
    this.sub = undefined;
    this.subscribedInbox = undefined;
  }

  // ClientStreamHost and OutboxWire, for the links.

  publish(subject: string, payload: Uint8Array, options: PublishOptions): void {
    const nc = this.nc;
    if (nc === undefined) throw errors.notConnected(this.address, 'the NATS connection closed');
    nc.publish(subject, payload, options);
  }

  maxPayload(): number {
    return this.nc?.info?.max_payload ?? Infinity;
  }

  forget(link: ClientStreamLink): void {
    if (this.links.get(link.id) === link) this.links.delete(link.id);
  }

  private connected(nc: NatsConnection, inbox: string, link: ClientStreamLink, openSubject: string): void {
    if (this.links.get(link.id) !== link) return; // over meanwhile
    this.nc = nc;
    if (this.sub === undefined || this.subscribedInbox !== inbox) {
      this.subscribedInbox = inbox;
      // Subscribed before the first message leaves: NATS handles one connection's commands in order.
      this.sub = nc.subscribe(clientStreamsSubject(inbox), { callback: (error, msg) => this.onMessage(error, msg) });
    }
    link.connected(openSubject);
  }

  private onMessage(error: Error | null, msg: Msg): void {
    if (error !== null) return;
    const subject = msg.subject;
    const id = Number(subject.slice(subject.lastIndexOf('.') + 1));
    // Messages for streams that ended (crossing their END or CANCEL), or for none: dropped.
    if (Number.isInteger(id)) this.links.get(id)?.receive(msg);
  }

  private newId(): number {
    let id = this.nextId;
    while (this.links.has(id)) id = id === 0x7fffffff ? 1 : id + 1;
    this.nextId = id === 0x7fffffff ? 1 : id + 1;
    return id;
  }
}

function refused(receiver: StreamReceiver, error: RpcError): StreamSender {
  queueMicrotask(() => receiver.fail(error));
  return NO_STREAM_SENDER;
}
