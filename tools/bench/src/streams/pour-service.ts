import { Method, Service } from '@svc/core';

export interface PourRequest {
  /** Messages to send. */
  count: number;
  /** Bytes in each. */
  size: number;
}

export interface Block {
  data: Uint8Array;
}

export interface Tick {
  n: number;
}

export interface Poured {
  blocks: number;
  bytes: number;
}

/** The stream benchmark's service: streams as fast as flow control lets them, both ways. */
@Service('Pour')
export class Pour {
  /** A server stream of `count` blocks of `size` random bytes (made once: the bench measures the stream, not the bytes). */
  @Method()
  async *blocks(request: PourRequest): AsyncGenerator<Block> {
    const data = new Uint8Array(request.size);
    for (let i = 0; i < data.length; i += 4096) data[i] = i & 0xff;
    for (let i = 0; i < request.count; i++) yield { data };
  }

  /** A server stream of `count` small messages. */
  @Method()
  async *ticks(request: PourRequest): AsyncGenerator<Tick> {
    for (let n = 0; n < request.count; n++) yield { n };
  }

  /** A client stream: takes every block, answers with what arrived. */
  @Method()
  async sink(blocks: AsyncIterable<Block>): Promise<Poured> {
    let count = 0;
    let bytes = 0;
    for await (const block of blocks) {
      count++;
      bytes += block.data.length;
    }
    return { blocks: count, bytes };
  }

  /** A unary call of the same small message, to compare a stream's message rate with. */
  @Method()
  async ping(tick: Tick): Promise<Tick> {
    return tick;
  }
}
