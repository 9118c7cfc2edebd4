import { describe, expect, it } from 'vitest';
import { CallTable, PendingCalls, errors, type PendingCall, type ResponseMessage } from '../src/transport-kit.js';
import type { RpcError } from '../src/index.js';

interface Call extends PendingCall {
  written: boolean;
  answers: (RpcError | ResponseMessage | undefined)[];
}

function call(id: number, written = false): Call {
  const answers: Call['answers'] = [];
  return { id, written, answers, onResponse: (error, response) => answers.push(error ?? response) };
}

describe('CallTable.take', () => {
  it('gets and deletes in one: the value once, then undefined', () => {
    const table = new CallTable<number, string>();
    table.set(5, 'five');
    expect(table.take(5)).toBe('five');
    expect(table.take(5)).toBeUndefined();
    expect(table.has(5)).toBe(false);
    expect(table.size).toBe(0);
  });

  it('takes entries held beside the ring (a slot taken by an id a turn earlier) and string keys', () => {
    const table = new CallTable<number | string, string>();
    table.set(1, 'old');
    table.set(1 + 64, 'a turn later'); // same slot of the initial ring: goes beside it
    table.set('_INBOX.x', 'subject');
    table.set('__proto__', 'proto');
    expect(table.size).toBe(4);
    expect(table.take(1 + 64)).toBe('a turn later');
    expect(table.take(1 + 64)).toBeUndefined();
    expect(table.take('__proto__')).toBe('proto');
    expect(table.take('_INBOX.x')).toBe('subject');
    expect(table.take('toString')).toBeUndefined();
    expect(table.get(1)).toBe('old');
    expect(table.take(1)).toBe('old');
    expect(table.size).toBe(0);
    expect(table.values()).toEqual([]);
  });
});

describe('PendingCalls', () => {
  it('adds calls by their id, finds them and takes each one once', () => {
    const pending = new PendingCalls<Call>();
    const a = call(1);
    const b = call(2);
    pending.add(a);
    pending.add(b);
    expect(pending.size).toBe(2);
    expect(pending.get(1)).toBe(a);
    expect(pending.holds(a)).toBe(true);
    expect(pending.take(1)).toBe(a);
    expect(pending.take(1)).toBeUndefined();
    expect(pending.holds(a)).toBe(false);
    expect(pending.size).toBe(1);
    expect(pending.values()).toEqual([b]);
  });

  it('holds() is about that very call, not another with its id', () => {
    const pending = new PendingCalls<Call>();
    const first = call(9);
    const second = call(9);
    pending.add(first);
    pending.add(second);
    expect(pending.holds(first)).toBe(false);
    expect(pending.holds(second)).toBe(true);
  });

  it('settle() fails a call that waits, once; later settles and takes find nothing', () => {
    const pending = new PendingCalls<Call>();
    const a = call(1);
    pending.add(a);
    const error = errors.channelClosed('tcp://x:1');
    expect(pending.settle(1, error)).toBe(true);
    expect(pending.settle(1, error)).toBe(false);
    expect(pending.take(1)).toBeUndefined();
    expect(a.answers).toEqual([error]);
  });

  it('failAll(error) fails every call once and empties the table', () => {
    const pending = new PendingCalls<Call>();
    const calls = Array.from({ length: 200 }, (_, i) => call(i + 1));
    for (const c of calls) pending.add(c);
    const error = errors.connectionLost('tcp://x:1', 'gone');
    pending.failAll(error);
    expect(pending.size).toBe(0);
    for (const c of calls) expect(c.answers).toEqual([error]);
  });

  it('failAll(errorOf) gives each call its own error, and leaves those it gives none', () => {
    const pending = new PendingCalls<Call>();
    const written = call(1, true);
    const unwritten = call(2, false);
    const other = call(3, true);
    for (const c of [written, unwritten, other]) pending.add(c);
    const lost = errors.connectionLost('tcp://x:1', 'gone');
    const notSent = lost.withProgress('not_sent');
    pending.failAll((c) => (c === other ? undefined : c.written ? lost : notSent));
    expect(written.answers).toEqual([lost]);
    expect(unwritten.answers).toEqual([notSent]);
    expect(other.answers).toEqual([]);
    expect(pending.values()).toEqual([other]);
  });

  it('failAll: a call settled or cancelled by an earlier one\'s callback is not answered again; calls made meanwhile stay', () => {
    const pending = new PendingCalls<Call>();
    const later = call(2);
    const made = call(3);
    const first: Call = {
      ...call(1),
      onResponse: (error) => {
        first.answers.push(error);
        pending.take(2); // the caller cancels its other call
        pending.add(made); // and makes a new one
      },
    };
    pending.add(first);
    pending.add(later);
    const error = errors.channelClosed('tcp://x:1');
    pending.failAll(error);
    expect(first.answers).toEqual([error]);
    expect(later.answers).toEqual([]);
    expect(made.answers).toEqual([]);
    expect(pending.values()).toEqual([made]);
  });

  it('a subclass that overrides take() sees every way out: answer, settle, failAll', () => {
    const out: number[] = [];
    class Counted extends PendingCalls<Call> {
      override take(id: number): Call | undefined {
        const c = super.take(id);
        if (c !== undefined) out.push(c.id);
        return c;
      }
    }
    const pending = new Counted();
    for (let id = 1; id <= 4; id++) pending.add(call(id));
    pending.take(1);
    pending.settle(2, errors.channelClosed('x'));
    pending.failAll(errors.channelClosed('x'));
    expect(out).toEqual([1, 2, 3, 4]);
    expect(pending.size).toBe(0);
  });

  it('keeps many calls in flight while ids run on, as a busy channel does', () => {
    const pending = new PendingCalls<Call>();
    const live: Call[] = [];
    for (let id = 1; id <= 20_000; id++) {
      const c = call(id);
      pending.add(c);
      live.push(c);
      if (live.length > 500) expect(pending.take(live.shift()!.id)).toBeDefined();
    }
    expect(pending.size).toBe(500);
    for (const c of live) expect(pending.holds(c)).toBe(true);
  });
});
