import { headers as natsHeaders, type Msg, type MsgHdrs, type Subscription } from 'nats';
import type { EventDelivery, EventMessage, EventSubscriber, EventSubscription } from '@svc/core/transport';
import type { MetadataLimits } from '@svc/core/transport';
import { DEFAULT_METADATA_LIMITS, H_CODEC, H_METADATA, headerJson, parseMetadata } from './call-headers.js';
import type { ConnectionPool, SharedConnection } from './shared-connection.js';
import type { NatsAddress } from './address.js';
import { checkTopic, type Subjects } from './subjects.js';

/**
 * Events over NATS are plain messages on `svc.evt.<topic>`: the body is the payload (JSON), the
 * codec and metadata travel as headers (absent: JSON, none), so `nats pub svc.evt.orders.created
 * '{"id":1}'` reaches @Subscribe handlers too. A group subscription joins the queue group
 * `svc.evt.<group>`: NATS gives each event to one member. Delivery is at most once (core NATS).
 */
export function eventHeaders(event: EventMessage): MsgHdrs | undefined {
  if (event.codec === 'json' && event.metadata === undefined) return undefined;
  const h = natsHeaders();
  if (event.codec !== 'json') h.set(H_CODEC, event.codec);
  if (event.metadata !== undefined) h.set(H_METADATA, headerJson(event.metadata));
  return h;
}

export function checkEventTopic(topic: string, pattern: boolean): void {
  const tokens = topic.split('.');
  const plain = tokens.filter((t, i) => !(pattern && (t === '*' || (t === '>' && i === tokens.length - 1)))).join('.');
  if (plain !== '') checkTopic(pattern ? 'event topic pattern' : 'event topic', plain);
}

export async function subscribeEvents(
  pool: ConnectionPool,
  target: NatsAddress,
  subjects: Subjects,
  subscriptions: readonly EventSubscription[],
  deliver: EventDelivery,
  metadataLimits: MetadataLimits = DEFAULT_METADATA_LIMITS,
): Promise<EventSubscriber> {
  for (const s of subscriptions) checkEventTopic(s.topic, true);
  const shared: SharedConnection = pool.acquire(target.key, target.servers);
  let nc;
  try {
    nc = await shared.ready;
  } catch (error) {
    await pool.release(shared);
    throw error;
  }
  const topicStart = subjects.event('').length;
  const subs: Subscription[] = subscriptions.map((subscription) =>
    nc.subscribe(subjects.event(subscription.topic), {
      queue: subscription.group === undefined ? undefined : subjects.event(subscription.group),
      callback: (_error, msg: Msg) => {
        let metadata;
        try {
          metadata = parseMetadata(msg.headers?.get(H_METADATA), 'request', metadataLimits);
        } catch {
          // Metadata that is not a JSON object of strings within the limits: the event is dropped
          // rather than handed over without it or with values no handler expects (at most once).
          return;
        }
        deliver(subscription, { topic: msg.subject.slice(topicStart), codec: msg.headers?.get(H_CODEC) || 'json', metadata, body: msg.data });
      },
    }),
  );
  await nc.flush();
  let released = false;
  return {
    async drain() {
      if (nc.isClosed()) return;
      await Promise.all(subs.filter((s) => !s.isClosed()).map((s) => s.drain().catch(() => {})));
    },
    async close() {
      for (const s of subs) if (!s.isClosed()) s.unsubscribe();
      if (!released) {
        released = true;
        await pool.release(shared);
      }
    },
  };
}
