import { type Code, CODE_NUMBERS, codeFromNumber, isCode, isRetryableCode } from './codes.js';
import type { Metadata } from '../metadata.js';

export interface RpcErrorOptions {
  /** Structured, JSON-serialisable data for the caller (field violations, retry hints, ...). */
  details?: unknown;
  /** Metadata that travels back with the error. */
  metadata?: Metadata;
  /** The error that caused this one; kept locally, never sent. */
  cause?: unknown;
  /** Overrides the default of the code (UNAVAILABLE, RESOURCE_EXHAUSTED and ABORTED retry). */
  retryable?: boolean;
  /** How far the call got before it failed. Default 'processed': a handler may have run. */
  progress?: Progress;
}

/**
 * How far a failed call got, which decides whether it is safe to try again:
 * - `not_sent`: it never left this process (no address, not connected, send buffer full, an open
 *   circuit); trying again costs the server nothing.
 * - `refused`: it reached the server, but no handler ran (shutting down, too many calls, unknown
 *   method, refused by a filter before the handler); any method may be tried again.
 * - `processed`: a handler may have run (its own error, a connection lost after the request was
 *   written); only an idempotent method may be tried again.
 */
export type Progress = 'not_sent' | 'refused' | 'processed';

/**
 * The one error type of @svc. Handlers throw it, filters throw it, the client rebuilds it from
 * the wire: code, message, details and metadata survive the trip; the stack only when the server
 * opts in (`exposeStack`), then as `remoteStack`.
 */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  readonly code: Code;
  readonly details: unknown;
  readonly metadata: Metadata | undefined;
  readonly retryable: boolean;
  /** How far the call got (see Progress); what a client's fail mode reads to decide on a retry. */
  readonly progress: Progress;
  /** The server's stack, when the server sends it. */
  remoteStack: string | undefined;

  constructor(code: Code, message: string, options: RpcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (!isCode(code)) throw new TypeError(`RpcError: '${String(code)}' is not a status code; use one of Code.*`);
    this.code = code;
    this.details = options.details;
    this.metadata = options.metadata;
    this.retryable = options.retryable ?? isRetryableCode(code);
    this.progress = options.progress ?? 'processed';
    this.remoteStack = undefined;
  }

  /**
   * The same error with another progress (a transport that knows how far the call got). Keeps
   * everything else, the stack included.
   */
  withProgress(progress: Progress): RpcError {
    if (progress === this.progress) return this;
    const copy = Object.create(RpcError.prototype) as RpcError;
    Object.defineProperties(copy, Object.getOwnPropertyDescriptors(this));
    (copy as { progress: Progress }).progress = progress;
    return copy;
  }

  /** The number that travels on the wire. */
  get codeNumber(): number {
    return CODE_NUMBERS[this.code];
  }

  static is(value: unknown, code?: Code): value is RpcError {
    return value instanceof RpcError && (code === undefined || value.code === code);
  }

  /**
   * Rebuilds the error a peer sent. `progress` and `retryable` are as the peer said (absent:
   * 'processed' and the code's default), so an old peer's errors are never retried unsafely.
   */
  static fromWire(status: number, message: string, details: string | undefined, metadata: Metadata | undefined, stack?: string, progress?: Progress, retryable?: boolean): RpcError {
    let parsed: unknown;
    if (details) {
      try {
        parsed = JSON.parse(details);
      } catch {
        parsed = details;
      }
    }
    const error = new RpcError(codeFromNumber(status), message, { details: parsed, metadata, progress, retryable });
    if (stack) error.remoteStack = stack;
    return error;
  }

  /**
   * Anything thrown by user code becomes an RpcError: RpcErrors pass through, an AbortError
   * becomes CANCELLED, everything else UNKNOWN with its message (never its stack).
   */
  static from(value: unknown): RpcError {
    if (value instanceof RpcError) return value;
    if (value instanceof Error) {
      if (value.name === 'AbortError') return new RpcError('CANCELLED', value.message || 'the call was cancelled', { cause: value });
      return new RpcError('UNKNOWN', value.message || value.name, { cause: value });
    }
    return new RpcError('UNKNOWN', typeof value === 'string' ? value : `non-Error value thrown: ${safeString(value)}`, { cause: value });
  }

  toJSON(): { code: Code; message: string; details?: unknown } {
    return this.details === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, details: this.details };
  }
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
