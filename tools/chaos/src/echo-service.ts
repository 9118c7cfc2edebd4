/**
 * The one service every chaos and soak process serves: an echo, so a reply can be checked against
 * its request. `echo` is what the chaos scenarios and the soak call. For the fail-mode scenarios
 * (fail-modes.ts) the service has two more methods, `get` (idempotent: safe to run twice) and
 * `put` (not idempotent: each run is written to a journal with the call's unique id), and a server
 * can be told to misbehave (EchoBehaviour): answer a share of calls late, or fail them.
 */
import { writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Method, RpcError, Service, type CallContext, type Client } from '@svc/core';

export interface EchoRequest {
  seq: number;
  /** How long the handler takes, ms: with a few ms, a fault finds calls in flight on every server. */
  workMs: number;
  pad: string;
}

/** A `put`: not idempotent, so each id must run at most once across every server. */
export interface PutRequest extends EchoRequest {
  id: string;
}

/** How a server misbehaves, from its environment (server-process.ts). */
export interface EchoBehaviour {
  /** This share of `get` and `put` calls (0 to 1) fail with UNAVAILABLE at once, drawn at random (no pattern for round robin to fall in step with). */
  failRate?: number;
  /** This share of `get` calls (0 to 1) answer `slowMs` late, spread evenly (every 20th for 0.05). */
  slowRate?: number;
  slowMs?: number;
  /** A file descriptor open for appending: each `put` writes its id there before it answers. */
  journalFd?: number;
}

/** What one server process ran, by method; reported on request (child-protocol.ts 'counts'). */
export interface EchoCounts {
  echo: number;
  /** Runs of `get` and `put`: every attempt that reached a handler, retries and hedges included. */
  get: number;
  put: number;
  /** Of those, failed on purpose (failRate). */
  failed: number;
  /** Of those, answered late on purpose (slowRate). */
  slow: number;
  /** Runs whose caller cancelled them while they worked (a hedge that lost). */
  cancelled: number;
  /** Runs that were a retry or a hedge (ctx.attempt > 1). */
  laterAttempts: number;
  /** get and put runs started and not yet answered, now. */
  inFlight: number;
}

export function emptyCounts(): EchoCounts {
  return { echo: 0, get: 0, put: 0, failed: 0, slow: 0, cancelled: 0, laterAttempts: 0, inFlight: 0 };
}

@Service('Echo')
export class Echo {
  readonly counts = emptyCounts();
  private readonly behaviour: EchoBehaviour;
  /** Runs of get and put so far, for the even spread of slow calls. */
  private runs = 0;

  constructor(behaviour: EchoBehaviour = {}) {
    this.behaviour = behaviour;
  }

  @Method()
  async echo(request: EchoRequest): Promise<EchoRequest> {
    this.counts.echo++;
    if (request.workMs > 0) await sleep(request.workMs);
    return request;
  }

  /** Idempotent: the fail modes may run it twice (failover after `processed`, hedges). */
  @Method({ idempotent: true })
  async get(request: EchoRequest, ctx: CallContext): Promise<EchoRequest> {
    this.counts.get++;
    const n = this.start(ctx);
    const b = this.behaviour;
    const slow = b.slowRate !== undefined && b.slowMs !== undefined && hits(n, b.slowRate);
    if (slow) this.counts.slow++;
    await this.work(request.workMs + (slow ? b.slowMs! : 0), ctx);
    this.counts.inFlight--;
    return request;
  }

  /** Not idempotent: journals its id before it answers, so a second run of one id is seen even if this process is killed. */
  @Method()
  async put(request: PutRequest, ctx: CallContext): Promise<{ id: string }> {
    this.counts.put++;
    this.start(ctx);
    if (this.behaviour.journalFd !== undefined) writeSync(this.behaviour.journalFd, `${request.id}\n`);
    await this.work(request.workMs, ctx);
    this.counts.inFlight--;
    return { id: request.id };
  }

  /** Counts the run and fails it if this server fails that share of calls; returns its number. */
  private start(ctx: CallContext): number {
    const n = ++this.runs;
    this.counts.inFlight++;
    if (ctx.attempt > 1) this.counts.laterAttempts++;
    const rate = this.behaviour.failRate;
    if (rate !== undefined && (rate >= 1 || Math.random() < rate)) {
      this.counts.failed++;
      this.counts.inFlight--;
      throw new RpcError('UNAVAILABLE', 'this Echo server fails calls on purpose (ECHO_FAIL_RATE)');
    }
    return n;
  }

  /** Sleeps `ms`, or less if the caller cancels (the hedge that lost): the handler stops too. */
  private async work(ms: number, ctx: CallContext): Promise<void> {
    if (ms <= 0) return;
    try {
      await sleep(ms, undefined, { signal: ctx.signal });
    } catch {
      this.counts.cancelled++;
    }
  }
}

/** The n-th run (from 1) is one of a share `rate` spread evenly: exactly ⌊n × rate⌋ of the first n are. */
function hits(n: number, rate: number): boolean {
  return Math.floor(n * rate) > Math.floor((n - 1) * rate);
}

/** A request of about 100 bytes, numbered so that a wrong reply is caught. */
export function echoRequest(seq: number, workMs = 0): EchoRequest {
  return { seq, workMs, pad: PAD };
}

const PAD = 'x'.repeat(80);

/** One echo call for a Load: resolves true when the reply is the request's, rejects when the call fails. */
export function echoCall(client: Client, deadlineMs: number, workMs = 0): (seq: number) => Promise<boolean> {
  return async (seq) => {
    const reply = await client.invoke<EchoRequest>('Echo', 'echo', echoRequest(seq, workMs), { timeout: deadlineMs });
    return reply.seq === seq;
  };
}
