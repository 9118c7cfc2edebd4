import { SpanStatusCode, type Span } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ATTR_RPC_STATUS_CODE } from './semconv.js';
import type { StatusCode } from './status.js';

/**
 * Ends an RPC span: `rpc.status_code` always, and for a code the side counts as an error
 * `error.type` (the code) and status ERROR with the error's message. Nothing is set on a span
 * that is not recorded.
 */
export function endRpcSpan(span: Span, code: StatusCode, error: unknown, marksError: (code: StatusCode) => boolean): void {
  if (span.isRecording()) {
    span.setAttribute(ATTR_RPC_STATUS_CODE, code);
    if (marksError(code)) recordError(span, code, error);
  }
  span.end();
}

/** Marks a recorded span as failed with `code` (`error.type`) and the error's message. */
export function recordError(span: Span, code: StatusCode, error: unknown): void {
  if (!span.isRecording()) return;
  span.setAttribute(ATTR_ERROR_TYPE, code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}
