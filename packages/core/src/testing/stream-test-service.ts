import { Method } from '../decorators/method.js';
import { Service } from '../decorators/service.js';
import type { RpcError } from '../errors/rpc-error.js';
import type { CallContext } from '../server/call-context.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A string of `size` characters that tells message `i` from its neighbours everywhere along it. */
export function streamPattern(i: number, size: number): string {
  const unit = `${i % 10}abcdefghij`.repeat(4);
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
}

/**
 * The service the transports' own stream tests call (kills, hostile peers, limits), beside the
 * conformance suite's: each handler records its abort reason and that its `finally` ran, by tag.
 */
@Service('Streams')
export class StreamsTestService {
  /** Tags of handlers whose `finally` ran, in order. */
  readonly finallies: string[] = [];
  /** Abort reasons the handlers saw (their code), by tag. */
  readonly aborts = new Map<string, string>();

  /** `n` messages (default: until cancelled), one every `everyMs` (default 10). */
  @Method()
  async *ticks(request: { tag: string; everyMs?: number; n?: number }, ctx: CallContext): AsyncGenerator<{ i: number }> {
    ctx.signal.addEventListener('abort', () => this.aborts.set(request.tag, (ctx.signal.reason as RpcError).code), { once: true });
    try {
      for (let i = 0; i < (request.n ?? Infinity); i++) {
        yield { i };
        await sleep(request.everyMs ?? 10);
      }
    } finally {
      this.finallies.push(request.tag);
    }
  }

  @Method()
  async sum(messages: AsyncIterable<{ n: number }>): Promise<number> {
    let total = 0;
    for await (const message of messages) total += message.n;
    return total;
  }

  /** A client stream that never reads (tag 'hold'): what its client sends must stay within the window. */
  @Method()
  async hold(_messages: AsyncIterable<unknown>, ctx: CallContext): Promise<number> {
    const tag = 'hold';
    ctx.signal.addEventListener('abort', () => this.aborts.set(tag, (ctx.signal.reason as RpcError).code), { once: true });
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    this.finallies.push(tag);
    return 0;
  }

  @Method()
  async *echo(messages: AsyncIterable<unknown>): AsyncGenerator<unknown> {
    for await (const message of messages) yield message;
  }

  /** One string of `bytes` characters. */
  @Method()
  async *big(request: { bytes: number }): AsyncGenerator<string> {
    yield 'x'.repeat(request.bytes);
  }

  /** `count` strings of `size` characters, each made of its index, so that a mixed-up or cut one shows. */
  @Method()
  async *pour(request: { count: number; size: number }): AsyncGenerator<string> {
    for (let i = 0; i < request.count; i++) yield streamPattern(i, request.size);
  }

  /** Takes strings, answers with their count and total length, and whether each was whole. */
  @Method()
  async drink(messages: AsyncIterable<string>): Promise<{ count: number; chars: number; whole: boolean }> {
    let count = 0;
    let chars = 0;
    let whole = true;
    for await (const message of messages) {
      if (message !== streamPattern(count, message.length)) whole = false;
      count++;
      chars += message.length;
    }
    return { count, chars, whole };
  }
}
