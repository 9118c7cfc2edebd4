import { describe, expect, it } from 'vitest';
import { deadlineFrom, remainingMs } from '../src/transport-kit.js';

describe('remainingMs', () => {
  it('is 0 for no deadline, whatever the time', () => {
    expect(remainingMs(0, 1_000)).toBe(0);
    expect(remainingMs(0)).toBe(0);
  });

  it('is the time left, and at least 1 for a deadline that is due or past', () => {
    expect(remainingMs(1_500, 1_000)).toBe(500);
    expect(remainingMs(1_001, 1_000)).toBe(1);
    expect(remainingMs(1_000, 1_000)).toBe(1);
    expect(remainingMs(10, 1_000)).toBe(1);
  });

  it('reads the clock when no time is given, and only then', () => {
    const left = remainingMs(Date.now() + 60_000);
    expect(left).toBeGreaterThan(59_000);
    expect(left).toBeLessThanOrEqual(60_000);
    const original = Date.now;
    let reads = 0;
    Date.now = () => (reads++, original());
    try {
      remainingMs(0);
      deadlineFrom(0);
      expect(reads).toBe(0);
      remainingMs(original() + 5);
      deadlineFrom(5);
      expect(reads).toBe(2);
    } finally {
      Date.now = original;
    }
  });
});

describe('deadlineFrom', () => {
  it('is 0 (no deadline) for no time left, and now + the time otherwise', () => {
    expect(deadlineFrom(0, 1_000)).toBe(0);
    expect(deadlineFrom(250, 1_000)).toBe(1_250);
    expect(deadlineFrom(1.5, 1_000)).toBe(1_001.5);
    const before = Date.now();
    const deadline = deadlineFrom(100);
    expect(deadline).toBeGreaterThanOrEqual(before + 100);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 100);
  });

  it('round-trips with remainingMs: what one side sends, the other gets back', () => {
    for (const left of [1, 7, 100, 30_000, 0xffffffff]) expect(remainingMs(deadlineFrom(left, 5_000), 5_000)).toBe(left);
    expect(deadlineFrom(remainingMs(0, 5_000), 9_000)).toBe(0);
  });
});
