import { checkedFrameBytes, Compression, FrameKind, headerSize, writeFrameAt, type ResponseMessage } from '@svc/core/transport';
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

/** A response saying the call failed (no body). */
export function errorResponse(status: number, message: string): ResponseMessage {
  return { status, message, metadata: undefined, codec: 'json', compression: Compression.NONE, body: EMPTY };
}

/** An answer saying the call failed. */
export function errorAnswer(callerId: number, status: number, message: string): AnswerFrame {
  return answerFrame(callerId, errorResponse(status, message));
}

/** The answer as it goes: the caller's own error when it alone exceeds `maxBytes`. */
export function fittingAnswer(callerId: number, response: ResponseMessage, maxBytes: number): AnswerFrame {
  const answer = answerFrame(callerId, response);
  if (answer.frameBytes <= maxBytes) return answer;
  const error = payloadTooLarge(answer.frameBytes, maxBytes);
  return errorAnswer(callerId, error.codeNumber, error.message);
}

export function writeAnswerFrame(answer: AnswerFrame, out: Buffer, pos: number): number {
  return writeFrameAt(out, pos, FrameKind.RESPONSE, answer.callerId, answer.response, 0, answer.response.body, answer.headLength);
}
