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

  it('holds hedges to maxExtraLoad of the calls, plus a reserve of 10', () => {
    const w = new LatencyWindow();
    for (let i = 0; i < 200; i++) w.called(1); // one moment: no halving
    let sent = 0;
    while (w.mayHedge(0.05)) sent++;
    expect(sent).toBe(20); // 200 × 0.05 + 10
  });

  it('halves its counts every second, so the share is recent', () => {
    const w = new LatencyWindow();
    for (let i = 0; i < 100; i++) w.called(1);
    while (w.mayHedge(0.05)) {}
    w.called(2_000); // a second later: calls and hedges halve
    expect(w.mayHedge(0.05)).toBe(true);
  });
});
