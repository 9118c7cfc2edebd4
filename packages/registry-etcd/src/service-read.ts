import { Range, type Etcd3 } from 'etcd3';
import type { ServiceNode } from '@svc/core';
import { nodeOf, servicePrefix } from './etcd-record.js';
import type { ResolvedOptions } from './etcd-options.js';

/** Keys one range request asks for: a page bounds what one answer may hold. */
const PAGE_KEYS = 256;
/** Keys read at most per service, good and bad, in units of maxInstances. */
const MAX_KEYS_FACTOR = 8;

/** A service's nodes by key as of one revision. */
export interface ServiceRead {
  readonly nodes: Map<string, ServiceNode>;
  readonly revision: string;
  /** More good records were there than maxInstances, or more keys than were read. */
  readonly truncated: boolean;
}

/**
 * Reads a service's prefix in pages, all at the revision of the first, until maxInstances good
 * records are found or 8 × maxInstances keys were read: values that are not records (anyone who
 * may write the prefix can write anything) neither hide good ones nor cost unbounded memory.
 */
export async function readService(etcd: Etcd3, service: string, options: ResolvedOptions): Promise<ServiceRead> {
  const prefix = servicePrefix(options.prefix, service);
  const end = Range.prefix(prefix).end;
  const nodes = new Map<string, ServiceNode>();
  const maxKeys = options.maxInstances * MAX_KEYS_FACTOR;
  let start: Buffer = Buffer.from(prefix);
  let revision: string | undefined;
  let keysRead = 0;
  for (;;) {
    let request = etcd.getAll().inRange(new Range(start, end)).limit(Math.min(PAGE_KEYS, maxKeys - keysRead));
    if (revision !== undefined) request = request.revision(revision);
    const page = await request.exec();
    revision ??= page.header.revision;
    for (const kv of page.kvs) {
      keysRead++;
      const key = kv.key.toString();
      const node = nodeOf(options.prefix, service, key, kv.value, options.maxValueBytes);
      if (node === undefined) continue;
      if (nodes.size >= options.maxInstances) return { nodes, revision, truncated: true };
      nodes.set(key, node);
    }
    if (!page.more || page.kvs.length === 0) return { nodes, revision, truncated: false };
    if (keysRead >= maxKeys) return { nodes, revision, truncated: true };
    // The next page starts just after the last key read.
    start = Buffer.concat([page.kvs[page.kvs.length - 1]!.key, Buffer.from([0])]);
  }
}
