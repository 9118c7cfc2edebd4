import { describe, expect, it } from 'vitest';
import { InboundMessages, type InboundOwner } from '../src/stream/inbound-messages.js';
import { DEFAULT_STREAM_WINDOW, INITIAL_STREAM_WINDOW, MESSAGE_OVERHEAD, OutboundCredit, resolveStreamWindow } from '../src/stream/outbound-credit.js';
import type { RpcError } from '../src/errors/rpc-error.js';
import { DEFAULT_MAX_STREAM_WINDOW, DEFAULT_STREAM_WINDOW_BUDGET, WindowBudget, resolveWindowBudget } from '../src/stream/window-budget.js';

const W = INITIAL_STREAM_WINDOW;

function queue(window = W, budget?: WindowBudget): { inbound: InboundMessages; granted: number[]; left: number[] } {
  const granted: number[] = [];
  const left: number[] = [];
  const owner: InboundOwner = {
    grant: (credit) => granted.push(credit),
    consumerLeft: () => left.push(1),
    undecodable: () => {},
    maxDecompressedSize: 1 << 20,
  };
  return { inbound: new InboundMessages(window, (bytes) => bytes.length, owner, budget), granted, left };
}

const bytes = (n: number) => new Uint8Array(n);
/** A message that counts `n` bytes against a window (its body and the per-message overhead). */
const msg = (n: number) => new Uint8Array(n - MESSAGE_OVERHEAD);

describe('stream credit, receiving side', () => {
  it('takes up to the window and ends the stream on the first byte beyond it, without queueing it', () => {
    const { inbound } = queue();
    for (let i = 0; i < 64; i++) expect(inbound.push(msg(1_024))).toBeUndefined();
    expect(inbound.bufferedBytes).toBe(W);
    const broken = inbound.push(bytes(1)) as RpcError;
    expect(broken).toMatchObject({ code: 'RESOURCE_EXHAUSTED', retryable: false });
    expect(inbound.bufferedBytes).toBe(W);
  });

  it('counts empty messages against the window, so a peer cannot queue them without end', () => {
    const { inbound } = queue();
    let accepted = 0;
    while (inbound.push(bytes(0)) === undefined && accepted < 10_000) accepted++;
    expect(accepted).toBe(W / MESSAGE_OVERHEAD);
  });

  it('takes one message larger than the window only when it holds nothing else', () => {
    const { inbound } = queue();
    expect(inbound.push(bytes(3 * W))).toBeUndefined();
    expect(inbound.push(bytes(1))).toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    const other = queue().inbound;
    expect(other.push(bytes(1))).toBeUndefined();
    expect(other.push(bytes(3 * W))).toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
  });

  it('grants back once half the window was taken, and everything when the consumer waits on an empty queue', async () => {
    const { inbound, granted } = queue();
    for (let i = 0; i < 40; i++) inbound.push(msg(1_024));
    for (let i = 0; i < 31; i++) await inbound.next();
    expect(granted).toEqual([]);
    await inbound.next(); // the 32nd KiB: half the window
    expect(granted).toEqual([32 * 1_024]);
    for (let i = 0; i < 8; i++) await inbound.next();
    expect(granted).toEqual([32 * 1_024]);
    const waiting = inbound.next(); // empty: the 8 KiB taken go back now
    expect(granted).toEqual([32 * 1_024, 8 * 1_024]);
    inbound.push(bytes(5));
    expect(await waiting).toEqual({ done: false, value: 5 });
  });

  it('grants a larger window\'s surplus when it opens', () => {
    const { inbound, granted } = queue(4 * W);
    inbound.open();
    expect(granted).toEqual([3 * W]);
    for (let i = 0; i < 4; i++) expect(inbound.push(msg(W))).toBeUndefined();
    expect(inbound.push(bytes(1))).toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
  });

  it('takes a large message whose sender took the window\'s opening grant for bytes given back', () => {
    // The sender spent its initial 64 KiB on one message, then saw 192 KiB (the rest of a 256 KiB
    // window) come in and, its credit at its highest, sent a message larger than what is left.
    const { inbound } = queue(4 * W);
    inbound.open();
    expect(inbound.push(msg(80_000))).toBeUndefined();
    expect(inbound.push(msg(182_100))).toBeUndefined();
    // Beyond that nothing is taken: it holds more than it granted beyond the initial window.
    expect(inbound.push(bytes(100))).toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    expect(inbound.bufferedBytes).toBe(80_000 + 182_100);
  });

  it('delivers queued messages before the end, and the error after them', async () => {
    const { inbound } = queue();
    inbound.push(bytes(1));
    inbound.push(bytes(2));
    inbound.finish({ code: 'ABORTED' } as RpcError);
    expect(await inbound.next()).toEqual({ done: false, value: 1 });
    expect(await inbound.next()).toEqual({ done: false, value: 2 });
    await expect(inbound.next()).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('a consumer that leaves early is told once, gives back what was held and drops what still comes', async () => {
    const { inbound, granted, left } = queue();
    inbound.push(msg(100));
    await inbound.return();
    expect(left).toEqual([1]);
    expect(granted).toEqual([100]);
    expect(inbound.push(msg(40))).toBeUndefined();
    expect(granted).toEqual([100, 40]);
    expect(await inbound.next()).toEqual({ done: true, value: undefined });
  });
});

describe('stream credit, a window that grows', () => {
  const K = 1_024;
  /** A queue and the credit its peer holds: the window it started with, less what it sent, plus what was granted. */
  function stream(budget?: WindowBudget): { inbound: InboundMessages; peer: { credit: number }; granted: number[] } {
    const peer = { credit: W };
    const granted: number[] = [];
    const owner: InboundOwner = {
      grant: (credit) => {
        peer.credit += credit;
        granted.push(credit);
      },
      consumerLeft: () => {},
      undecodable: () => {},
      maxDecompressedSize: 1 << 20,
    };
    return { inbound: new InboundMessages(W, (bytes) => bytes.length, owner, budget), peer, granted };
  }
  /** Sends 20 KiB messages while the credit covers one, as a producer faster than the window does; returns how many. */
  function fill({ inbound, peer }: { inbound: InboundMessages; peer: { credit: number } }): number {
    let sent = 0;
    while (peer.credit >= 20 * K) {
      expect(inbound.push(msg(20 * K))).toBeUndefined();
      peer.credit -= 20 * K;
      sent++;
    }
    return sent;
  }
  async function drain(inbound: InboundMessages, count: number): Promise<void> {
    for (let i = 0; i < count; i++) await inbound.next();
  }

  /** After the consumer waited on an empty queue: everything was granted back, so the peer holds the whole window. */
  function expectWindowGranted({ inbound, peer }: ReturnType<typeof stream>): void {
    expect(inbound.bufferedBytes).toBe(0);
    expect(peer.credit).toBe(inbound.currentWindow);
  }

  it('doubles when a consumer that keeps up waits on a peer the window stalled, up to maxWindow', async () => {
    const budget = new WindowBudget(4 * W, 10 * W);
    const s = stream(budget);
    expect(fill(s)).toBe(3); // 60 KiB: the peer has 4 KiB left, less than a message
    await drain(s.inbound, 3);
    void s.inbound.next(); // waits on an empty queue: what it took goes back, and 64 KiB of growth
    expect(s.inbound.currentWindow).toBe(2 * W);
    expect(budget.available).toBe(9 * W);
    expectWindowGranted(s);
    expect(fill(s)).toBe(6); // the first to the waiting consumer
    await drain(s.inbound, 5);
    void s.inbound.next();
    expect(s.inbound.currentWindow).toBe(4 * W);
    expect(budget.available).toBe(7 * W);
    expectWindowGranted(s);
    // At maxWindow it grows no more, and a peer sending past it still breaks the window.
    expect(fill(s)).toBe(12);
    await drain(s.inbound, 11);
    void s.inbound.next();
    expect(s.inbound.currentWindow).toBe(4 * W);
    expect(budget.available).toBe(7 * W);
    for (let i = 0; i < 12; i++) expect(s.inbound.push(msg(20 * K))).toBeUndefined();
    expect(s.inbound.push(msg(20 * K))).toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
  });

  it('does not grow for a slow consumer (its queue is never empty) nor for a slow producer (it never spends its credit)', async () => {
    const budget = new WindowBudget(4 * W, 10 * W);
    const slowConsumer = stream(budget);
    fill(slowConsumer);
    for (let i = 0; i < 50; i++) {
      await slowConsumer.inbound.next();
      fill(slowConsumer); // the producer spends what was granted back before the consumer comes again
      expect(slowConsumer.inbound.bufferedBytes).toBeGreaterThan(0);
    }
    expect(slowConsumer.inbound.currentWindow).toBe(W);
    const slowProducer = stream(budget).inbound;
    for (let i = 0; i < 50; i++) {
      const waiting = slowProducer.next();
      slowProducer.push(msg(20 * K));
      await waiting;
    }
    expect(slowProducer.currentWindow).toBe(W);
    expect(budget.available).toBe(10 * W);
  });

  it('draws growth from a budget the streams share, and gives it back when a stream ends', async () => {
    const budget = new WindowBudget(4 * W, W);
    const first = stream(budget);
    const second = stream(budget);
    await drain(first.inbound, fill(first));
    void first.inbound.next();
    expect(first.inbound.currentWindow).toBe(2 * W);
    expect(budget.available).toBe(0);
    await drain(second.inbound, fill(second));
    void second.inbound.next();
    expect(second.inbound.currentWindow).toBe(W); // nothing left to grow by
    expectWindowGranted(second);
    first.inbound.release();
    first.inbound.release(); // once only
    expect(budget.available).toBe(W);
    expect(first.inbound.currentWindow).toBe(W);
    await drain(second.inbound, fill(second) - 1);
    void second.inbound.next();
    expect(second.inbound.currentWindow).toBe(2 * W);
    expect(budget.available).toBe(0);
  });

  it('never grows without a budget, with an empty one, or once the stream is over', async () => {
    for (const budget of [undefined, new WindowBudget(4 * W, 0)]) {
      const s = stream(budget);
      await drain(s.inbound, fill(s));
      void s.inbound.next();
      expect(s.inbound.currentWindow).toBe(W);
      expectWindowGranted(s);
    }
    const budget = new WindowBudget(4 * W, 10 * W);
    const s = stream(budget);
    fill(s);
    s.inbound.finish();
    await drain(s.inbound, 3);
    expect(await s.inbound.next()).toEqual({ done: true, value: undefined });
    expect(budget.available).toBe(10 * W);
  });

  it('grows when the peer says it waited for credit, though its credit was in flight and the window never filled here', async () => {
    const budget = new WindowBudget(4 * W, 10 * W);
    const { inbound } = stream(budget);
    for (let i = 0; i < 3; i++) {
      const waiting = inbound.next();
      inbound.push(msg(20 * K), undefined, i === 2); // the third: sent after a wait
      await waiting;
    }
    expect(inbound.currentWindow).toBe(W);
    void inbound.next();
    expect(inbound.currentWindow).toBe(2 * W);
    expect(budget.available).toBe(9 * W);
  });

  it('checks maxStreamWindow and streamWindowBudget, and defaults them', () => {
    const defaults = resolveWindowBudget({});
    expect(defaults.maxWindow).toBe(DEFAULT_MAX_STREAM_WINDOW);
    expect(defaults.available).toBe(DEFAULT_STREAM_WINDOW_BUDGET);
    // A starting window above the default maximum is the maximum.
    expect(resolveWindowBudget({ streamWindow: 8 * DEFAULT_MAX_STREAM_WINDOW }).maxWindow).toBe(8 * DEFAULT_MAX_STREAM_WINDOW);
    expect(resolveWindowBudget({ maxStreamWindow: W, streamWindowBudget: 0 })).toMatchObject({ maxWindow: W, available: 0 });
    for (const bad of [1_000, W + 0.5, 2 ** 31, Number.NaN]) {
      expect(() => resolveWindowBudget({ maxStreamWindow: bad })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('maxStreamWindow') }));
    }
    for (const bad of [-1, 0.5, Number.POSITIVE_INFINITY]) {
      expect(() => resolveWindowBudget({ streamWindowBudget: bad })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('streamWindowBudget') }));
    }
  });
});

describe('stream credit, sending side', () => {
  it('sends while the credit covers a message, waits when it is spent, goes on when granted', async () => {
    const credit = new OutboundCredit();
    // Bodies sized so that each message counts 1 KiB, the overhead included.
    const body = 1_024 - MESSAGE_OVERHEAD;
    for (let i = 0; i < 64; i++) {
      expect(credit.allows(body)).toBe(true);
      credit.spend(body);
    }
    expect(credit.allows(0)).toBe(false);
    let woke = false;
    const waiting = credit.wait(2_048 - MESSAGE_OVERHEAD).then(() => (woke = true));
    credit.grant(1_024);
    await Promise.resolve();
    expect(woke).toBe(false);
    credit.grant(1_024);
    await waiting;
    expect(woke).toBe(true);
  });

  it('sends a message larger than the window only when everything was granted back', () => {
    const credit = new OutboundCredit();
    credit.spend(10);
    expect(credit.allows(3 * W)).toBe(false);
    credit.grant(10 + MESSAGE_OVERHEAD);
    expect(credit.allows(3 * W)).toBe(true);
    credit.spend(3 * W);
    expect(credit.allows(1)).toBe(false);
    credit.grant(3 * W + MESSAGE_OVERHEAD);
    expect(credit.allows(1)).toBe(true);
  });

  it('tells the first message after a wait for credit that it waited (its MESSAGE is flagged blocked)', async () => {
    const credit = new OutboundCredit();
    expect(credit.spend(W - MESSAGE_OVERHEAD - 10)).toBe(false);
    const waiting = credit.wait(100);
    credit.grant(W);
    await waiting;
    expect(credit.spend(100)).toBe(true);
    expect(credit.spend(100)).toBe(false);
    await credit.wait(100); // credit enough: no wait, no flag
    expect(credit.spend(100)).toBe(false);
  });

  it('releases a waiting sender when the stream stops', async () => {
    const credit = new OutboundCredit();
    credit.spend(W);
    const waiting = credit.wait(1);
    credit.stop();
    await expect(waiting).resolves.toBeUndefined();
  });

  it('checks the streamWindow option', () => {
    expect(resolveStreamWindow(undefined)).toBe(DEFAULT_STREAM_WINDOW);
    expect(resolveStreamWindow(1 << 20)).toBe(1 << 20);
    for (const bad of [1_000, W + 0.5, 2 ** 31, Number.NaN]) expect(() => resolveStreamWindow(bad)).toThrow(/streamWindow/);
  });
});
