import { answersTooLarge } from './nats-errors.js';
import { errorAnswer, writeAnswerFrame, type AnswerFrame } from './answer-frame.js';

/**
 * The answers to the framed calls of one request message, held until the last of those calls is
 * done and then published as one reply. For a service whose NATS user may only answer what it
 * receives (`allow_responses`, one reply per message by default), where answering each call as
 * soon as it is done would send a second reply the NATS server refuses. The price: a call waits
 * for the slowest call of its message.
 */
export class HeldAnswers {
  readonly reply: string;
  /** Calls not done yet, plus one while the message's calls are being dispatched. */
  private open = 1;
  private readonly answers: AnswerFrame[] = [];
  private readonly publish: (reply: string, payload: Uint8Array) => void;
  private readonly maxBytes: () => number;

  constructor(reply: string, publish: (reply: string, payload: Uint8Array) => void, maxBytes: () => number) {
    this.reply = reply;
    this.publish = publish;
    this.maxBytes = maxBytes;
  }

  /** One more call of the message is dispatched. */
  expect(): void {
    this.open++;
  }

  /** A call's answer, before that call is done(). */
  answer(answer: AnswerFrame): void {
    this.answers.push(answer);
  }

  /** A call is done, answered or cancelled (or the dispatching is); the last one publishes. */
  done(): void {
    if (--this.open > 0 || this.answers.length === 0) return;
    this.publish(this.reply, payloadOf(this.answers, this.maxBytes()));
  }
}

/** All answers in one payload of at most `maxBytes`: the largest become errors saying so until they fit. */
function payloadOf(answers: AnswerFrame[], maxBytes: number): Buffer {
  let bytes = answers.reduce((sum, a) => sum + a.frameBytes, 0);
  if (bytes > maxBytes) {
    const largest = answers.map((a, i) => i).sort((i, j) => answers[j]!.frameBytes - answers[i]!.frameBytes);
    for (const i of largest) {
      if (bytes <= maxBytes) break;
      // As far as the answer it replaces says the call got (processed for a handler's).
      const replaced = errorAnswer(answers[i]!.callerId, answersTooLarge(bytes, maxBytes), answers[i]!.response.progress ?? 0);
      bytes += replaced.frameBytes - answers[i]!.frameBytes;
      answers[i] = replaced;
    }
  }
  const payload = Buffer.allocUnsafe(bytes);
  let pos = 0;
  for (const answer of answers) pos = writeAnswerFrame(answer, payload, pos);
  return payload;
}
