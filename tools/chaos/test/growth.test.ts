import { describe, expect, it } from 'vitest';
import { growthOf, median } from '../src/growth.js';

describe('soak growth', () => {
  it('takes medians, so one outlier moves nothing', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(growthOf([10, 10, 99, 10, 10, 10, 10, 10, 99, 10], 4).growth).toBe(0);
  });

  it('compares the first and the last window', () => {
    expect(growthOf([100, 100, 100, 105, 110, 120, 120, 120], 3)).toEqual({ first: 100, last: 120, growth: 0.2 });
    expect(growthOf([100, 100, 90, 90], 2).growth).toBeCloseTo(-0.1);
  });

  it('never lets the windows overlap', () => {
    expect(growthOf([1, 2], 10)).toEqual({ first: 1, last: 2, growth: 1 });
  });
});
