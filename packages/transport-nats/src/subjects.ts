import { invalidSubjectName } from './nats-errors.js';

/**
 * The subject scheme, in one place (docs/transport-nats.md describes it). With the default
 * prefix `svc`:
 *
 *   svc.rpc.<Service>.<method>                  calls, queue group `svc.rpc.<Service>`: one instance answers
 *   svc.rpc.<Service>.$frames                   batches of @svc frames (calls to any method), same queue group
 *   svc.inst.<instance>.<Service>.<method>      calls addressed to one instance
 *   svc.cancel.<Service>                        cancels; every instance hears them, the one running the call acts
 *   svc.rpc.<Service>.$stream                   a stream's first message (its REQUEST), same queue group
 *   svc.inst.<instance>.<Service>.$stream       the same, to one instance
 *   svc.strm.<instance>.<stream id>             the client's later messages of one stream, to the instance that took it
 *   <caller inbox>.s.<client's stream id>       the server's messages of one stream, to the client
 *   svc.evt.<topic>                             events; queue group `svc.evt.<topic>.<group>` or none (broadcast)
 *
 * Service, method and topic names become subject tokens: letters, digits, `-`, `_`, and for topics
 * also `.` (a topic may have several tokens: `orders.created`).
 */
export class Subjects {
  readonly prefix: string;

  constructor(prefix = 'svc') {
    checkTopic('subject prefix', prefix);
    this.prefix = prefix;
  }

  call(service: string, method: string): string {
    return `${this.prefix}.rpc.${service}.${method}`;
  }

  /** Every method of a service: what a listener subscribes. */
  serviceCalls(service: string): string {
    return `${this.prefix}.rpc.${service}.*`;
  }

  queue(service: string): string {
    return `${this.prefix}.rpc.${service}`;
  }

  instanceCall(instance: string, service: string, method: string): string {
    return `${this.prefix}.inst.${instance}.${service}.${method}`;
  }

  /** Every call addressed to one instance, whatever the service: unknown ones get UNIMPLEMENTED. */
  instanceCalls(instance: string): string {
    return `${this.prefix}.inst.${instance}.>`;
  }

  /** Service and method of a per-instance call subject. */
  parseInstanceCall(instance: string, subject: string): { service: string; method: string } {
    const rest = subject.slice(`${this.prefix}.inst.${instance}.`.length);
    const dot = rest.indexOf('.');
    return dot < 0 ? { service: rest, method: '' } : { service: rest.slice(0, dot), method: rest.slice(dot + 1) };
  }

  /** Where a client's batches of framed calls to a service go: the service's queue group sees them. */
  frames(service: string): string {
    return `${this.prefix}.rpc.${service}.${FRAMES_TOKEN}`;
  }

  instanceFrames(instance: string, service: string): string {
    return `${this.prefix}.inst.${instance}.${service}.${FRAMES_TOKEN}`;
  }

  /** Where a client opens a stream of a service: the service's queue group sees it. */
  streamOpen(service: string): string {
    return `${this.prefix}.rpc.${service}.${STREAM_TOKEN}`;
  }

  instanceStreamOpen(instance: string, service: string): string {
    return `${this.prefix}.inst.${instance}.${service}.${STREAM_TOKEN}`;
  }

  /** The client's messages of one stream, once the instance that took it said where (pins the stream to it). */
  stream(instance: string, streamId: string): string {
    return `${this.prefix}.strm.${instance}.${streamId}`;
  }

  /** Every stream of one instance: what its listener subscribes (kept while it drains, so open streams finish). */
  instanceStreams(instance: string): string {
    return `${this.prefix}.strm.${instance}.*`;
  }

  cancel(service: string): string {
    return `${this.prefix}.cancel.${service}`;
  }

  event(topic: string): string {
    return `${this.prefix}.evt.${topic}`;
  }

  eventQueue(topic: string, group: string): string {
    return `${this.prefix}.evt.${topic}.${group}`;
  }

  /** The method name, last token of a call subject. */
  static methodOf(subject: string): string {
    return subject.slice(subject.lastIndexOf('.') + 1);
  }
}

/** The last token of a batch of framed calls; no method can have this name (see TOKEN). */
export const FRAMES_TOKEN = '$frames';

/** The last token of a stream's first message; no method can have this name either. */
export const STREAM_TOKEN = '$stream';

/** Where the server's messages of a client's stream `id` go: under the client's own inbox, which it alone subscribes. */
export function clientStreamSubject(inbox: string, id: number): string {
  return `${inbox}.s.${id}`;
}

/** The client's subscription for the server's messages of all its streams. */
export function clientStreamsSubject(inbox: string): string {
  return `${inbox}.s.*`;
}

/** The inbox a client's stream subject is under (`<inbox>.s.<id>`): who the caller is. */
export function callerOfStreamSubject(subject: string): string {
  const end = subject.lastIndexOf('.s.');
  return end > 0 ? subject.slice(0, end) : subject;
}

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** Throws unless `name` is one subject token. */
export function checkToken(what: string, name: string): void {
  if (!TOKEN.test(name)) {
    throw invalidSubjectName(what, name, false);
  }
}

/** Throws unless `name` is one or more subject tokens joined by dots. */
export function checkTopic(what: string, name: string): void {
  if (name.split('.').some((t) => !TOKEN.test(t))) {
    throw invalidSubjectName(what, name, true);
  }
}
