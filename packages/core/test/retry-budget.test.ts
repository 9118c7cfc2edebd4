import { describe, expect, it } from 'vitest';
import { RpcError } from '../src/index.js';
import { RetryBudget } from '../src/client/retry-budget.js';

describe('RetryBudget (gRPC retry throttling)', () => {
  it('starts full, stops retries at half, and refills by tokenRatio per success', () => {
    const budget = new RetryBudget();
    expect(budget.level).toBe(10);
    for (let i = 0; i < 4; i++) budget.failed(new RpcError('UNAVAILABLE', `f${i}`));
    expect(budget.allows).toBe(true); // 6 > 5
    budget.failed(new RpcError('UNAVAILABLE', 'f5'));
    expect(budget.allows).toBe(false); // 5 is not more than half
    for (let i = 0; i < 10; i++) budget.succeeded();
    expect(budget.level).toBeCloseTo(6);
    expect(budget.allows).toBe(true);
    for (let i = 0; i < 1000; i++) budget.succeeded();
    expect(budget.level).toBe(10);
    for (let i = 0; i < 100; i++) budget.failed(new RpcError('UNAVAILABLE', 'x'));
    expect(budget.level).toBe(0);
  });

  it('takes one token for a failure shared by many calls (one lost connection)', () => {
    const budget = new RetryBudget();
    const lost = new RpcError('UNAVAILABLE', 'connection lost');
    for (let i = 0; i < 50; i++) budget.failed(lost);
    expect(budget.level).toBe(9);
    expect(budget.allows).toBe(true);
  });

  it('takes its sizes from the options, and ignores nonsense', () => {
    expect(new RetryBudget({ maxTokens: 100, tokenRatio: 1 }).level).toBe(100);
    expect(new RetryBudget({ maxTokens: -3, tokenRatio: Number.NaN }).level).toBe(10);
  });
});
