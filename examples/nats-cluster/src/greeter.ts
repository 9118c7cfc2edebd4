import { Method, Service, Subscribe, type CallContext, type EventContext } from '@svc/core';

export interface HelloArgs {
  name: string;
}
export interface HelloReply {
  greeting: string;
  /** Which instance answered. */
  instance: string;
}

/** One service, run as three processes; each instance says who it is. */
@Service('Greeter', { version: '1.0.0' })
export class Greeter {
  constructor(readonly instance: string) {}

  @Method({ timeout: 1_000, idempotent: true })
  async hello(args: HelloArgs, _ctx: CallContext): Promise<HelloReply> {
    return { greeting: `hello ${args.name}`, instance: this.instance };
  }

  /** A group subscription (the default): each event reaches one Greeter instance. */
  @Subscribe('news.published')
  async onNews(news: { title: string }, ctx: EventContext): Promise<void> {
    console.log(`[${this.instance}] event ${ctx.topic}: ${news.title}`);
  }

  /** A broadcast subscription: every Greeter instance gets each event. */
  @Subscribe('config.reload', { broadcast: true })
  async onReload(change: { key: string }, ctx: EventContext): Promise<void> {
    console.log(`[${this.instance}] event ${ctx.topic}: ${change.key}`);
  }
}
