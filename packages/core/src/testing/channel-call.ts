import { RpcError } from '../errors/rpc-error.js';
import { Compression } from '../wire/header.js';
import type { Channel, RequestMessage, ResponseMessage } from '../transport/transport.js';

/** What a channel gave one call: its error, or the response (progress and retryable as wire numbers). */
export interface ChannelOutcome {
  error?: RpcError | undefined;
  response?: ResponseMessage | undefined;
}

export interface ChannelCallOptions {
  /** The request's deadline, ms from now; 0 for none. Default 5 000. */
  timeoutMs?: number;
  /** Runs right after channel.call() returned (the request is on its way). */
  afterSend?: () => void;
  /** Runs inside the channel's callback, before the promise settles (to call again from there). */
  onDone?: (outcome: ChannelOutcome) => void;
}

/** A JSON request as a client would hand it to a channel. */
export function jsonRequest(service: string, method: string, args: unknown, deadline = 0): RequestMessage {
  return { id: 0, service, method, codec: 'json', compression: Compression.NONE, deadline, metadata: undefined, body: Buffer.from(JSON.stringify(args)) };
}

/**
 * One JSON call on a channel, beneath any client (no fail mode retries it): what the transport
 * hands back. A transport that never answers fails the test 2 s after the deadline, not hangs it.
 */
export function callChannel(channel: Channel, service: string, method: string, args: unknown, options: ChannelCallOptions = {}): Promise<ChannelOutcome> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const request = jsonRequest(service, method, args, timeoutMs > 0 ? Date.now() + timeoutMs : 0);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      channel.cancel(id);
      resolve({ error: new RpcError('DEADLINE_EXCEEDED', `the transport gave no answer to ${method} within ${timeoutMs + 2_000} ms`) });
    }, timeoutMs + 2_000);
    const id = channel.call(request, (error, response) => {
      clearTimeout(timer);
      const outcome = { error, response };
      options.onDone?.(outcome);
      resolve(outcome);
    });
    options.afterSend?.();
  });
}
