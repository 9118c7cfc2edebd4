import type { RpcError } from '../errors/rpc-error.js';
import { CallTable } from './call-table.js';
import type { ResponseHandler } from './transport.js';

/** What a client channel keeps of a call it sent: its request id and whom to answer. */
export interface PendingCall {
  readonly id: number;
  readonly onResponse: ResponseHandler;
}

/**
 * A client channel's calls waiting for their answers, by request id, on a CallTable (no Map: its
 * comment says why). What every channel does with them is here once: a call leaves the table by
 * `take` (answered, cancelled or failed), and is answered only by whoever took it, so each call's
 * `onResponse` runs at most once, however its answer, its cancel and a lost connection race.
 *
 * A subclass may override `take` to keep bookkeeping of its own in step (`settle` and `failAll`
 * take through it).
 */
export class PendingCalls<P extends PendingCall> {
  private readonly table = new CallTable<number, P>();

  get size(): number {
    return this.table.size;
  }

  add(call: P): void {
    this.table.set(call.id, call);
  }

  get(id: number): P | undefined {
    return this.table.get(id);
  }

  /** True while `call` waits here: not answered, cancelled or failed. */
  holds(call: P): boolean {
    return this.table.get(call.id) === call;
  }

  /** Removes the call and returns it; undefined when it is no longer waiting (whoever took it answers it). */
  take(id: number): P | undefined {
    return this.table.take(id);
  }

  /** Fails the call with `error` if it still waits; false when it did not. */
  settle(id: number, error: RpcError): boolean {
    const call = this.take(id);
    if (call === undefined) return false;
    call.onResponse(error, undefined);
    return true;
  }

  /**
   * Fails every call waiting, with `error`, or with what `errorOf` gives for it (how far that call
   * got: not_sent for one never written, processed for one that may have run); a call for which it
   * gives undefined stays. A call that an earlier one's `onResponse` settled or cancelled is not
   * answered again; calls made meanwhile are not failed.
   */
  failAll(error: RpcError | ((call: P) => RpcError | undefined)): void {
    for (const call of this.table.values()) {
      if (!this.holds(call)) continue;
      const failure = typeof error === 'function' ? error(call) : error;
      if (failure === undefined) continue;
      this.take(call.id);
      call.onResponse(failure, undefined);
    }
  }

  /** The calls as an array of their own: the caller may change the table while walking it. */
  values(): P[] {
    return this.table.values();
  }
}
