import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InboundMessages, type InboundOwner } from '../src/stream/inbound-messages.js';
import { INITIAL_STREAM_WINDOW, MESSAGE_OVERHEAD, OutboundCredit } from '../src/stream/outbound-credit.js';
import { WindowBudget } from '../src/stream/window-budget.js';
import { Compression } from '../src/wire/header.js';

// One direction of a stream, both halves of its flow control as core runs them (a sender's
// OutboundCredit, a receiver's InboundMessages with a window that may grow), with frames in flight
// each way and a random order of what happens: a producer offering messages, a consumer taking
// them (or waiting on an empty queue), messages and WINDOW grants arriving. `pnpm fuzz` runs it
// with SVC_FUZZ_RUNS=1000000.
const RUNS = Number(process.env.SVC_FUZZ_RUNS ?? 300);
const W = INITIAL_STREAM_WINDOW;

type Step =
  | { kind: 'produce'; body: number }
  | { kind: 'consume' }
  | { kind: 'deliverMessage' }
  | { kind: 'deliverGrant' };

const step: fc.Arbitrary<Step> = fc.oneof(
  // Small, window-sized and larger-than-the-window messages.
  fc.record({ kind: fc.constant('produce' as const), body: fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 8_000, max: 40_000 }), fc.integer({ min: W, max: 3 * W })) }),
  fc.constant({ kind: 'consume' as const }),
  fc.constant({ kind: 'deliverMessage' as const }),
  fc.constant({ kind: 'deliverGrant' as const }),
);

interface Run {
  budget: WindowBudget;
  inbound: InboundMessages;
  credit: OutboundCredit;
  /** Frames in flight: messages to the receiver, grants to the sender. */
  toReceiver: { body: number; blocked: boolean }[];
  toSender: number[];
  /** The body the producer waits to send, if any. */
  pending: number | undefined;
  waiting: boolean;
  sent: number;
  received: number;
  largest: number;
}

function start(budgetBytes: number, maxWindow: number, window = W): Run {
  const run: Run = { budget: new WindowBudget(maxWindow, budgetBytes), inbound: undefined!, credit: new OutboundCredit(), toReceiver: [], toSender: [], pending: undefined, waiting: false, sent: 0, received: 0, largest: 0 };
  const owner: InboundOwner = { grant: (bytes) => run.toSender.push(bytes), consumerLeft: () => {}, undecodable: () => {}, maxDecompressedSize: 1 << 30 };
  run.inbound = new InboundMessages(window, (bytes) => bytes.length, owner, run.budget);
  // A window larger than the initial one grants the rest as the stream opens, in flight like any grant.
  run.inbound.open();
  return run;
}

/** Sends the waiting message once the credit covers it. */
function trySend(run: Run): void {
  if (run.pending === undefined || !run.credit.allows(run.pending)) return;
  const blocked = run.credit.spend(run.pending);
  run.toReceiver.push({ body: run.pending, blocked });
  run.pending = undefined;
  run.sent++;
}

function apply(run: Run, s: Step): void {
  switch (s.kind) {
    case 'produce':
      if (run.pending !== undefined) return;
      run.pending = s.body;
      run.largest = Math.max(run.largest, s.body + MESSAGE_OVERHEAD);
      if (!run.credit.allows(s.body)) void run.credit.wait(s.body);
      return trySend(run);
    case 'consume':
      if (run.waiting) return;
      // An empty queue makes the consumer wait: the next message goes straight to it.
      if (run.inbound.bufferedBytes === 0) run.waiting = true;
      void run.inbound.next();
      return;
    case 'deliverMessage': {
      const frame = run.toReceiver.shift();
      if (frame === undefined) return;
      // A sender that keeps the rules never breaks the window, however it grew.
      expect(run.inbound.push(new Uint8Array(frame.body), Compression.NONE, frame.blocked)).toBeUndefined();
      run.waiting = false;
      run.received++;
      return;
    }
    case 'deliverGrant': {
      const bytes = run.toSender.shift();
      if (bytes === undefined) return;
      run.credit.grant(bytes);
      return trySend(run);
    }
  }
}

function checkBounds(run: Run, budgetBytes: number, maxWindow: number, start: number): void {
  const window = run.inbound.currentWindow;
  expect(window).toBeGreaterThanOrEqual(start);
  expect(window).toBeLessThanOrEqual(Math.max(start, maxWindow));
  // What the window grew by came from the budget, and nothing else did.
  expect(run.budget.available).toBe(budgetBytes - (window - start));
  // The receiver holds at most its window, or one message larger than what is left of it and at
  // most what it granted beyond the initial window.
  expect(run.inbound.bufferedBytes).toBeLessThanOrEqual(Math.max(window, window - W + run.largest));
}

describe('fuzz: stream credit with windows that grow', () => {
  it('a sender that keeps the rules never breaks the window, memory stays within it and the budget, and nothing is left waiting', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8 * W }), fc.constantFrom(W, 2 * W, 4 * W, 16 * W), fc.constantFrom(W, 4 * W), fc.array(step, { maxLength: 300 }), (budgetBytes, maxWindow, window, steps) => {
        const run = start(budgetBytes, maxWindow, window);
        for (const s of steps) {
          apply(run, s);
          checkBounds(run, budgetBytes, maxWindow, window);
        }
        // Everything in flight arrives and the consumer takes all: the producer's last message goes
        // too (a grant withheld from a waiting sender would leave it here).
        for (let round = 0; round < 10_000 && (run.pending !== undefined || run.toReceiver.length > 0 || run.toSender.length > 0); round++) {
          apply(run, { kind: 'deliverMessage' });
          apply(run, { kind: 'consume' });
          apply(run, { kind: 'deliverGrant' });
          checkBounds(run, budgetBytes, maxWindow, window);
        }
        expect(run.pending).toBeUndefined();
        expect(run.received).toBe(run.sent);
        run.inbound.finish();
        run.inbound.release();
        expect(run.budget.available).toBe(budgetBytes);
      }),
      { numRuns: RUNS },
    );
  });

  it('a peer that ignores the credit gets the stream ended before the receiver holds more than the bound', () => {
    fc.assert(
      fc.property(fc.constantFrom(W, 4 * W), fc.array(fc.oneof(fc.integer({ min: 0, max: 40_000 }), fc.integer({ min: W, max: 3 * W }), fc.constant(-1)), { maxLength: 200 }), (window, sizes) => {
        const budget = new WindowBudget(16 * W, 16 * W);
        const owner: InboundOwner = { grant: () => {}, consumerLeft: () => {}, undecodable: () => {}, maxDecompressedSize: 1 << 30 };
        const inbound = new InboundMessages(window, (bytes) => bytes.length, owner, budget);
        inbound.open();
        let largest = 0;
        for (const size of sizes) {
          // -1: the consumer takes one message (and may wait, and grow the window, on an empty queue).
          if (size < 0) {
            void inbound.next();
            continue;
          }
          largest = Math.max(largest, size + MESSAGE_OVERHEAD);
          if (inbound.push(new Uint8Array(size), Compression.NONE, true) !== undefined) return;
          const grown = inbound.currentWindow;
          expect(inbound.bufferedBytes).toBeLessThanOrEqual(Math.max(grown, grown - W + largest));
        }
      }),
      { numRuns: RUNS },
    );
  });
});
