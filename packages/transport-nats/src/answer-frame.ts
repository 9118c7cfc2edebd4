import type { RpcError } from '@svc/core';
import { checkedFrameBytes, Compression, FrameKind, headerSize, progressToWire, retryableToWire, writeFrameAt, type ResponseMessage } from '@svc/core/transport';
import type { Framed } from './frame-batch.js';
import { payloadTooLarge } from './nats-errors.js';

/** An answer to a framed call, written into its NATS message when that leaves. */
export interface AnswerFrame extends Framed {
  /** The caller's id of the call. */
  readonly callerId: number;
  readonly response: ResponseMessage;
  readonly headLength: number;
}

const EMPTY = new Uint8Array(0);

export function answerFrame(callerId: number, response: ResponseMessage): AnswerFrame {
  const headLength = headerSize(callerId, response, 0);
  return { callerId, response, headLength, frameBytes: checkedFrameBytes(headLength, response.body.length, Number.MAX_SAFE_INTEGER) };
}

/**
 * A response saying the call failed with `error` (no body). `progress` (WireProgress) is how far
 * the call got, as the listener knows it (the error's own by default); `retryable` is sent when it
 * differs from the code's default. Both travel as header fields 13 and 14, or in Svc-Error.
 */
export function errorResponse(error: RpcError, progress: number = progressToWire(error.progress)): ResponseMessage {
  return { status: error.codeNumber, message: error.message, progress, retryable: retryableToWire(error), metadata: undefined, codec: 'json', compression: Compression.NONE, body: EMPTY };
}

/** An answer saying the call failed. */
export function errorAnswer(callerId: number, error: RpcError, progress?: number): AnswerFrame {
  return answerFrame(callerId, errorResponse(error, progress));
}

/**
 * The answer as it goes: the caller's own error when it alone exceeds `maxBytes`, as far as the
 * answer it replaces says the call got (processed for a handler's).
 */
export function fittingAnswer(callerId: number, response: ResponseMessage, maxBytes: number): AnswerFrame {
  const answer = answerFrame(callerId, response);
  if (answer.frameBytes <= maxBytes) return answer;
  return errorAnswer(callerId, payloadTooLarge(answer.frameBytes, maxBytes), response.progress ?? 0);
}

export function writeAnswerFrame(answer: AnswerFrame, out: Buffer, pos: number): number {
  return writeFrameAt(out, pos, FrameKind.RESPONSE, answer.callerId, answer.response, 0, answer.response.body, answer.headLength);
}
