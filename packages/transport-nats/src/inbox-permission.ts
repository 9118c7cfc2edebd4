import { createInbox, type NatsConnection } from 'nats';
import type { SharedConnection } from './shared-connection.js';

/**
 * Whether this connection may publish to any caller's inbox, or may only answer the messages it
 * receives (a NATS user with `allow_responses` and no publish permission on `_INBOX.>`, which by
 * default allows one reply per message). It publishes an empty message to a fresh subject shaped
 * like the replies to framed calls (`_INBOX.<nuid>.<message id>`) and listens for the NATS
 * server's refusal, which arrives before the answer to the flush that follows it.
 */
export async function mayPublishToInboxes(shared: SharedConnection, nc: NatsConnection): Promise<boolean> {
  const subject = `${createInbox()}.0`;
  let refused = false;
  const stop = shared.onRefusal((refusal) => {
    if (refusal.operation === 'publish' && refusal.subject === subject) refused = true;
  });
  try {
    nc.publish(subject);
    await nc.flush();
    // The refusal reaches watchers through nats.js's status iterator, a few promise turns later.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    stop();
  }
  return !refused;
}

/** Whether a subject is a reply to framed calls: a caller's inbox. */
export function isInboxSubject(subject: string): boolean {
  return subject.startsWith('_INBOX.');
}
