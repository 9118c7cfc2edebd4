import { describe, expect, it } from 'vitest';
import { InboundMessages, type InboundOwner } from '../src/stream/inbound-messages.js';
import { DEFAULT_STREAM_WINDOW, INITIAL_STREAM_WINDOW, MESSAGE_OVERHEAD, OutboundCredit, resolveStreamWindow } from '../src/stream/outbound-credit.js';
import type { RpcError } from '../src/errors/rpc-error.js';

const W = INITIAL_STREAM_WINDOW;

function queue(window = W): { inbound: InboundMessages; granted: number[]; left: number[] } {
  const granted: number[] = [];
  const left: number[] = [];
  const owner: InboundOwner = {
    grant: (credit) => granted.push(credit),
    consumerLeft: () => left.push(1),
    undecodable: () => {},
    maxDecompressedSize: 1 << 20,
  };
  return { inbound: new InboundMessages(window, (bytes) => bytes.length, owner), granted, left };
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
