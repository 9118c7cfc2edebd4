import type { EventDelivery, EventMessage, EventSubscriber, EventSubscription } from './event-transport.js';
import { topicMatches } from './event-transport.js';

interface Entry {
  readonly subscription: EventSubscription;
  readonly deliver: EventDelivery;
  active: boolean;
}

/**
 * Events within one process, for inproc(): each event goes to every broadcast subscription of
 * its topic and to one subscription per group (round robin), a microtask later.
 */
export class InprocEventBus {
  private entries: Entry[] = [];
  private readonly turns = new Map<string, number>();

  subscribe(subscriptions: readonly EventSubscription[], deliver: EventDelivery): EventSubscriber {
    const mine = subscriptions.map((subscription) => ({ subscription, deliver, active: true }));
    this.entries.push(...mine);
    const stop = async (): Promise<void> => {
      for (const e of mine) e.active = false;
      this.entries = this.entries.filter((e) => e.active);
    };
    return { drain: stop, close: stop };
  }

  async publish(event: EventMessage): Promise<void> {
    const groups = new Map<string, Entry[]>();
    const targets: Entry[] = [];
    for (const entry of this.entries) {
      if (!topicMatches(entry.subscription.topic, event.topic)) continue;
      const group = entry.subscription.group;
      if (group === undefined) targets.push(entry);
      else groups.set(group, [...(groups.get(group) ?? []), entry]);
    }
    for (const [group, members] of groups) {
      const turn = this.turns.get(group) ?? 0;
      this.turns.set(group, turn + 1);
      targets.push(members[turn % members.length]!);
    }
    queueMicrotask(() => {
      for (const t of targets) if (t.active) t.deliver(t.subscription, event);
    });
  }
}
