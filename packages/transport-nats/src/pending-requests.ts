import { CallTable, PendingCalls, type RequestMessage, type ResponseHandler } from '@svc/core/transport';
import type { RpcError } from '@svc/core';
import type { Framed } from './frame-batch.js';

/** A call of a NatsChannel waiting for its answer. */
export interface Pending extends Framed {
  readonly id: number;
  readonly onResponse: ResponseHandler;
  readonly service: string;
  /** The request, until its frame is written into a message. */
  request: RequestMessage | undefined;
  /** Time left when the call was sent, as the frame says it. */
  timeoutMs: number;
  headLength: number;
  frameBytes: number;
  /** The NATS message it left in, once published. */
  sent: SentMessage | undefined;
}

/** One published NATS message of requests: its reply subject is `<inbox>.<id>`. */
export interface SentMessage {
  readonly id: number;
  readonly inbox: string;
  readonly calls: readonly Pending[];
  /** Calls of it still waiting; at 0 the message is forgotten. */
  open: number;
}

/**
 * A channel's calls waiting for answers (core's PendingCalls: take, settle, fail all), and the
 * published messages they left in, which a message-level answer (no responders, a refused message,
 * a reply that does not parse) names by id. Every way a call leaves goes through `take`, which
 * forgets its message once none of that message's calls waits any more.
 */
export class PendingRequests extends PendingCalls<Pending> {
  /** Published messages whose calls are not all answered: a 503 (no responders) names one. */
  private readonly messages = new CallTable<number, SentMessage>();
  private nextMessageId = 1;

  /** Numbers a message of `calls` about to be published with replies to `inbox`, and marks its calls sent. */
  publishing(inbox: string, calls: readonly Pending[]): SentMessage {
    const id = this.nextMessageId;
    this.nextMessageId = id === 0x7fffffff ? 1 : id + 1;
    const message: SentMessage = { id, inbox, calls, open: calls.length };
    this.messages.set(id, message);
    for (const call of calls) call.sent = message;
    return message;
  }

  /** The published message with this id, while any of its calls waits. */
  message(id: number): SentMessage | undefined {
    return this.messages.get(id);
  }

  override take(id: number): Pending | undefined {
    const pending = super.take(id);
    const message = pending?.sent;
    if (message !== undefined && --message.open === 0) this.messages.delete(message.id);
    return pending;
  }

  /** Fails the calls of one message that still wait for their answers. */
  failMessage(message: SentMessage, failure: RpcError): void {
    for (const call of message.calls) if (call.sent === message && this.holds(call)) this.settle(call.id, failure);
  }
}
