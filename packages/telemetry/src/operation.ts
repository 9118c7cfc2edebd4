import type { Attributes } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ATTR_RPC_STATUS_CODE, ATTR_SVC_ATTEMPTS } from './semconv.js';
import type { StatusCode } from './status.js';

/**
 * One thing calls are counted by: a method (`Arith/mul`) on one side, or an event topic. It keeps
 * the span name and the attribute objects its spans and metrics use, built once and frozen, so a
 * call allocates none: a span that is not sampled never copies them, and metrics get the same
 * object every time.
 */
export class Operation {
  readonly spanName: string;
  /** What spans start with and what the calls-in-flight gauge is counted by. */
  readonly attributes: Attributes;
  /** Calls in flight now (read by an observable gauge, so a call costs two increments). */
  active = 0;
  /** Finished calls by the number of attempts they made (index), read by an observable counter. */
  readonly byAttempts: number[] = [];
  private readonly marksError: (code: StatusCode) => boolean;
  private readonly byStatus = new Map<StatusCode, Attributes>();
  private readonly attemptAttributes: Attributes[] = [];

  constructor(spanName: string, attributes: Attributes, marksError: (code: StatusCode) => boolean) {
    this.spanName = spanName;
    this.attributes = Object.freeze(attributes);
    this.marksError = marksError;
  }

  /** The attributes of a finished call: these plus `rpc.status_code`, and `error.type` when it failed. */
  ended(code: StatusCode, withStatusCode = true): Attributes {
    let found = this.byStatus.get(code);
    if (found === undefined) {
      const attributes: Attributes = { ...this.attributes };
      if (withStatusCode) attributes[ATTR_RPC_STATUS_CODE] = code;
      if (this.marksError(code)) attributes[ATTR_ERROR_TYPE] = code;
      this.byStatus.set(code, (found = Object.freeze(attributes)));
    }
    return found;
  }

  /** Counts a finished call that made `attempts` attempts (0: none was sent). */
  countAttempts(attempts: number): void {
    const n = attempts > MAX_COUNTED_ATTEMPTS ? MAX_COUNTED_ATTEMPTS : attempts;
    this.byAttempts[n] = (this.byAttempts[n] ?? 0) + 1;
  }

  /** The attributes of the calls that made `n` attempts: these plus `svc.attempts`. */
  attemptsAttributes(n: number): Attributes {
    return (this.attemptAttributes[n] ??= Object.freeze({ ...this.attributes, [ATTR_SVC_ATTEMPTS]: n }));
  }
}

/** A call makes at most 5 attempts and 5 free retries; anything above is counted here. */
const MAX_COUNTED_ATTEMPTS = 10;

/**
 * Operations by two names (service and method, or handler and topic), made on first use. Past
 * `limit` names it answers `overflow` for new ones, so a caller inventing names cannot grow it
 * (or the metrics' cardinality) without bound.
 */
export class OperationTable {
  private readonly byFirst = new Map<string, Map<string, Operation>>();
  private readonly make: (first: string, second: string) => Operation;
  private readonly overflow: Operation;
  private readonly limit: number;
  private size = 0;
  private overflowUsed = false;

  constructor(make: (first: string, second: string) => Operation, overflow: Operation, limit = 2000) {
    this.make = make;
    this.overflow = overflow;
    this.limit = limit;
  }

  get(first: string, second: string): Operation {
    // Two maps rather than one keyed by first + second: no string is built per call.
    let bySecond = this.byFirst.get(first);
    const found = bySecond?.get(second);
    if (found !== undefined) return found;
    if (this.size >= this.limit) return this.other();
    if (bySecond === undefined) this.byFirst.set(first, (bySecond = new Map()));
    const made = this.make(first, second);
    bySecond.set(second, made);
    this.size++;
    return made;
  }

  /** The operation of names not counted one by one (`_OTHER`). */
  other(): Operation {
    this.overflowUsed = true;
    return this.overflow;
  }

  /** Every operation made so far (the overflow one once it was used). */
  *all(): IterableIterator<Operation> {
    for (const bySecond of this.byFirst.values()) yield* bySecond.values();
    if (this.overflowUsed) yield this.overflow;
  }
}
