import { describe, expect, it } from 'vitest';
import { LatencyWindow } from '../src/client/latency-window.js';

describe('LatencyWindow (failbackup statistics)', () => {
  it('knows no p95 before 32 samples, then the 95th percentile of the last 256', () => {
    const w = new LatencyWindow();
    for (let i = 1; i <= 31; i++) w.record(i);
    expect(w.p95()).toBeUndefined();
    w.record(32);
    expect(w.p95()).toBe(31); // floor(32 × 0.95) = 30th of 0..31: the value 31
    for (let i = 0; i < 256; i++) w.record(i < 243 ? 1 : 100); // 13 slow of 256: over 5 %
    expect(w.p95()).toBe(100);
  });

  it('lets a burst of 100 hedges through a full bucket, then one per 1 / maxExtraLoad calls', () => {
    const w = new LatencyWindow();
    let sent = 0;
    while (w.mayHedge()) sent++;
    expect(sent).toBe(100);
    for (let i = 0; i < 100; i++) w.called(0.125); // 100 calls at 12.5 %: 12.5 tokens (exact in binary)
    sent = 0;
    while (w.mayHedge()) sent++;
    expect(sent).toBe(12);
  });

  it('never holds more than 100 tokens', () => {
    const w = new LatencyWindow();
    for (let i = 0; i < 10_000; i++) w.called(1);
    let sent = 0;
    while (w.mayHedge()) sent++;
    expect(sent).toBe(100);
  });
});
