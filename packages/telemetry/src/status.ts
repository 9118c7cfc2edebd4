import { RpcError, type Code } from '@svc/core';

/** `rpc.status_code` values: OK or one of the error codes. */
export type StatusCode = 'OK' | Code;

/**
 * The status a failed call ends with, as the server answers it: an RpcError's code, CANCELLED for
 * an AbortError, UNKNOWN for anything else (RpcError.from's rule, without making an error).
 */
export function statusOf(error: unknown): Code {
  if (error instanceof RpcError) return error.code;
  return error instanceof Error && error.name === 'AbortError' ? 'CANCELLED' : 'UNKNOWN';
}

/** The gRPC conventions for a client span: every status but OK is an error. */
export function clientMarksError(code: StatusCode): boolean {
  return code !== 'OK';
}

/**
 * The gRPC conventions for a server span: only the codes that say the server failed are errors;
 * the others (INVALID_ARGUMENT, NOT_FOUND, …) are the caller's problem and leave the span unset.
 */
export function serverMarksError(code: StatusCode): boolean {
  return code === 'UNKNOWN' || code === 'DEADLINE_EXCEEDED' || code === 'UNIMPLEMENTED' || code === 'INTERNAL' || code === 'UNAVAILABLE' || code === 'DATA_LOSS';
}
