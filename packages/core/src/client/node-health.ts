import type { RpcError } from '../errors/rpc-error.js';

/**
 * Whether a failed attempt says its node is unwell: it could not be reached or answer in time,
 * broke, or is overloaded. A caller's mistake (INVALID_ARGUMENT, NOT_FOUND, …) or its own
 * cancellation (CANCELLED: a lost hedge too) says nothing about the node.
 */
export function saysNodeUnwell(error: RpcError): boolean {
  const code = error.code;
  return code === 'UNAVAILABLE' || code === 'DEADLINE_EXCEEDED' || code === 'INTERNAL' || code === 'RESOURCE_EXHAUSTED';
}
