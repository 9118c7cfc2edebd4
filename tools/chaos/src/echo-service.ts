/** The one service every chaos and soak process serves: an echo, so a reply can be checked against its request. */
import { setTimeout as sleep } from 'node:timers/promises';
import { Method, Service, type Client } from '@svc/core';

export interface EchoRequest {
  seq: number;
  /** How long the handler takes, ms: with a few ms, a fault finds calls in flight on every server. */
  workMs: number;
  pad: string;
}

@Service('Echo')
export class Echo {
  @Method()
  async echo(request: EchoRequest): Promise<EchoRequest> {
    if (request.workMs > 0) await sleep(request.workMs);
    return request;
  }
}

/** A request of about 100 bytes, numbered so that a wrong reply is caught. */
export function echoRequest(seq: number, workMs = 0): EchoRequest {
  return { seq, workMs, pad: PAD };
}

const PAD = 'x'.repeat(80);

/** One echo call for a Load: resolves true when the reply is the request's, rejects when the call fails. */
export function echoCall(client: Client, deadlineMs: number, workMs = 0): (seq: number) => Promise<boolean> {
  return async (seq) => {
    const reply = await client.invoke<EchoRequest>('Echo', 'echo', echoRequest(seq, workMs), { timeout: deadlineMs });
    return reply.seq === seq;
  };
}
