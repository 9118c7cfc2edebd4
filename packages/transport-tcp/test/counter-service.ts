import { Method, Service, type CallContext } from '@svc/core';

/** A service that counts what reaches its handlers, so that tests can assert what did not run. */
@Service('Counter')
export class Counter {
  readonly seen: unknown[] = [];

  @Method()
  async hit(request: unknown): Promise<unknown> {
    this.seen.push(request);
    return request;
  }

  /** Holds the call for `ms` (or until it is cancelled). */
  @Method()
  async hold(request: { ms: number }, ctx: CallContext): Promise<{ ms: number }> {
    this.seen.push(request);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, request.ms);
      ctx.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
    return request;
  }

  /** A small request for a large answer: what a peer that does not read would make a server queue. */
  @Method()
  async blob(request: { bytes: number }): Promise<{ blob: string }> {
    this.seen.push(request);
    return { blob: 'x'.repeat(request.bytes) };
  }
}
