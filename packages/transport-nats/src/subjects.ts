import { invalidSubjectName } from './nats-errors.js';

/**
 * The subject scheme, in one place (docs/transport-nats.md describes it). With the default
 * prefix `svc`:
 *
 *   svc.rpc.<Service>.<method>                  calls, queue group `svc.rpc.<Service>`: one instance answers
 *   svc.rpc.<Service>.$frames                   batches of @svc frames (calls to any method), same queue group
 *   svc.inst.<instance>.<Service>.<method>      calls addressed to one instance
 *   svc.cancel.<Service>                        cancels; every instance hears them, the one running the call acts
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
