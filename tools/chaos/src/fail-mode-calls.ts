/**
 * The calls of a fail-mode scenario, as a LoadCall: a mix of Echo `get` (idempotent) and `put`
 * (not idempotent, each with an id of its own that servers journal), tallied per method, with
 * every failure's code, progress and time, the ids of the puts that succeeded, and the latency of
 * every successful get.
 */
import { performance } from 'node:perf_hooks';
import { RpcError, type Client } from '@svc/core';
import { echoRequest, type EchoRequest, type PutRequest } from './echo-service.js';
import { NOT_AN_RPC_ERROR, type LoadCall } from './load.js';

export type EchoMethod = 'get' | 'put';

export interface MethodTally {
  calls: number;
  ok: number;
  /** Replies that were not the echo of their request. */
  mismatches: number;
  /** By code, and by code and progress ('UNAVAILABLE/processed'), to say what the caller saw. */
  failedByCode: Record<string, number>;
  failedByCodeAndProgress: Record<string, number>;
}

/** One failed call, times in ms on the calls' clock. */
export interface FailedCall {
  method: EchoMethod;
  seq: number;
  code: string;
  progress: string | undefined;
  message: string;
  startedAt: number;
  settledAt: number;
}

export interface FailModeCallsOptions {
  deadlineMs: number;
  /** How long each handler takes, ms. */
  workMs: number;
  /** Every n-th call is a put (the rest are gets); 0: gets only. */
  putEvery: number;
  /** Prefix of the put ids: distinct per client, so two clients' ids never collide in the journals. */
  tag: string;
  /** Keep the latency of every successful get (the hedging scenario). */
  latencies?: boolean;
}

function tally(): MethodTally {
  return { calls: 0, ok: 0, mismatches: 0, failedByCode: {}, failedByCodeAndProgress: {} };
}

export class FailModeCalls {
  readonly get = tally();
  readonly put = tally();
  /** Ids of the puts that succeeded. */
  readonly okPutIds: string[] = [];
  readonly failures: FailedCall[] = [];
  /** ms from start to reply of each successful get, when asked for. */
  readonly getLatencies: number[] = [];
  private readonly origin = performance.now();

  constructor(
    private readonly client: Client,
    readonly options: FailModeCallsOptions,
  ) {}

  /** Milliseconds since these calls were made: the clock of `failures` and of a scenario's marks. */
  now(): number {
    return performance.now() - this.origin;
  }

  /** Resolves true for a right reply, false for a wrong one; rejects (after tallying) on failure. */
  readonly call: LoadCall = async (seq) => {
    const { putEvery, workMs, deadlineMs, tag } = this.options;
    const method: EchoMethod = putEvery > 0 && seq % putEvery === putEvery - 1 ? 'put' : 'get';
    const t = this[method];
    t.calls++;
    const startedAt = this.now();
    try {
      let right: boolean;
      if (method === 'put') {
        const id = `${tag}-${seq}`;
        const request: PutRequest = { ...echoRequest(seq, workMs), id };
        const reply = await this.client.invoke<{ id: string }>('Echo', 'put', request, { timeout: deadlineMs });
        right = reply.id === id;
        if (right) this.okPutIds.push(id);
      } else {
        const reply = await this.client.invoke<EchoRequest>('Echo', 'get', echoRequest(seq, workMs), { timeout: deadlineMs });
        right = reply.seq === seq;
        if (right && this.options.latencies) this.getLatencies.push(this.now() - startedAt);
      }
      if (right) t.ok++;
      else t.mismatches++;
      return right;
    } catch (error) {
      const code = error instanceof RpcError ? String(error.code) : NOT_AN_RPC_ERROR;
      const progress = error instanceof RpcError ? error.progress : undefined;
      t.failedByCode[code] = (t.failedByCode[code] ?? 0) + 1;
      const key = `${code}/${progress ?? '-'}`;
      t.failedByCodeAndProgress[key] = (t.failedByCodeAndProgress[key] ?? 0) + 1;
      const message = error instanceof Error ? error.message.slice(0, 300) : String(error);
      this.failures.push({ method, seq, code, progress, message, startedAt, settledAt: this.now() });
      throw error;
    }
  };
}

export function failedCount(t: MethodTally): number {
  return Object.values(t.failedByCode).reduce((a, b) => a + b, 0);
}
