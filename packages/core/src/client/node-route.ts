import semver from 'semver';
import type { RpcError } from '../errors/rpc-error.js';
import { invalidRoute, noMatchingNode } from '../errors/framework-errors.js';
import type { ServiceNode } from './registry.js';

/**
 * Which nodes of a service a call may use, before the selector picks: per client
 * (ClientOptions.route), per service (services[name].route) and per call (CallOptions.route);
 * the nearest layer wins, field by field (a nearer `tags` replaces a farther one whole).
 */
export interface RouteOptions {
  /** Only nodes that have all these tags with these values, e.g. { zone: 'eu' }. */
  tags?: Readonly<Record<string, string>>;
  /** Only nodes whose version satisfies this semver range, e.g. '^1.2.0' (nodes without a version never do). */
  version?: string;
  /** When no node matches: 'fail' (default) the call with UNAVAILABLE, or 'any': use all the nodes. */
  onNoMatch?: 'fail' | 'any';
}

/** A route made ready to filter node lists; the last list and its answer are kept, as lists change rarely. */
export class NodeRoute {
  private readonly tags: readonly (readonly [string, string])[];
  private readonly range: semver.Range | undefined;
  private readonly anyOnNoMatch: boolean;
  private lastNodes: readonly ServiceNode[] | undefined = undefined;
  private lastAnswer: readonly ServiceNode[] | undefined = undefined;

  private constructor(tags: readonly (readonly [string, string])[], range: semver.Range | undefined, anyOnNoMatch: boolean) {
    this.tags = tags;
    this.range = range;
    this.anyOnNoMatch = anyOnNoMatch;
  }

  /**
   * The route of these layers, outermost first; undefined when it lets every node through.
   * Throws invalidRoute for a range semver cannot read or a tag that is not a string.
   */
  static of(layers: readonly (RouteOptions | undefined)[]): NodeRoute | undefined {
    let tags: Readonly<Record<string, string>> | undefined;
    let version: string | undefined;
    let onNoMatch: RouteOptions['onNoMatch'];
    for (const layer of layers) {
      if (layer === undefined) continue;
      if (layer.tags !== undefined) tags = layer.tags;
      if (layer.version !== undefined) version = layer.version;
      if (layer.onNoMatch !== undefined) onNoMatch = layer.onNoMatch;
    }
    if (onNoMatch !== undefined && onNoMatch !== 'fail' && onNoMatch !== 'any') throw invalidRoute(`onNoMatch is ${JSON.stringify(onNoMatch)}; use 'fail' or 'any'`);
    const pairs: [string, string][] = [];
    if (tags !== undefined) {
      if (typeof tags !== 'object' || tags === null) throw invalidRoute('tags must be an object of strings, e.g. { zone: "eu" }');
      for (const [key, value] of Object.entries(tags)) {
        if (typeof value !== 'string') throw invalidRoute(`tag '${key}' is ${typeof value}, not a string`);
        pairs.push([key, value]);
      }
    }
    const range = version === undefined || version === '' ? undefined : rangeOf(version);
    if (pairs.length === 0 && range === undefined) return undefined;
    return new NodeRoute(pairs, range, onNoMatch === 'any');
  }

  /** The nodes this route allows, or the error to fail the call with. `nodes` is not empty. */
  select(service: string, nodes: readonly ServiceNode[]): readonly ServiceNode[] | RpcError {
    if (nodes === this.lastNodes) return this.lastAnswer!;
    const matching = nodes.filter((n) => this.matches(n));
    let answer: readonly ServiceNode[];
    if (matching.length > 0) answer = matching.length === nodes.length ? nodes : Object.freeze(matching);
    else if (this.anyOnNoMatch) answer = nodes;
    else return noMatchingNode(service, this.describe(), available(nodes));
    this.lastNodes = nodes;
    this.lastAnswer = answer;
    return answer;
  }

  private matches(node: ServiceNode): boolean {
    const tags = node.tags;
    for (const [key, value] of this.tags) {
      if (tags === undefined || tags === null || !Object.hasOwn(tags, key) || tags[key] !== value) return false;
    }
    if (this.range === undefined) return true;
    const version = node.version;
    if (typeof version !== 'string') return false;
    try {
      return this.range.test(version);
    } catch {
      return false; // a version semver cannot read matches no range
    }
  }

  private describe(): string {
    const parts: string[] = [];
    if (this.range !== undefined) parts.push(`version ${this.range.raw}`);
    if (this.tags.length > 0) parts.push(`tags ${this.tags.map(([k, v]) => `${k}=${v}`).join(', ')}`);
    return parts.join(' and ');
  }
}

/** Versions and tags of the nodes a route found none in, briefly, for the error message. */
function available(nodes: readonly ServiceNode[]): string {
  const versions = new Set<string>();
  const tags = new Set<string>();
  for (const node of nodes) {
    versions.add(typeof node.version === 'string' && node.version !== '' ? node.version : 'none');
    for (const [k, v] of Object.entries(node.tags ?? {})) tags.add(`${k}=${v}`);
  }
  return `${nodes.length} node(s); versions: ${brief(versions)}; tags: ${brief(tags) || 'none'}`;
}

function brief(values: Set<string>): string {
  const list = [...values].sort();
  return list.length <= 8 ? list.join(', ') : `${list.slice(0, 8).join(', ')} and ${list.length - 8} more`;
}

/** Ranges parsed once: a client has few, a per-call route repeats them. */
const ranges = new Map<string, semver.Range>();

function rangeOf(version: string): semver.Range {
  if (typeof version !== 'string') throw invalidRoute(`version must be a semver range string such as '^1.2.0', not ${typeof version}`);
  let range = ranges.get(version);
  if (range !== undefined) return range;
  try {
    range = new semver.Range(version);
  } catch {
    throw invalidRoute(`version '${version}' is not a semver range; write one like '^1.2.0', '~2.1' or '>=1.0.0 <2.0.0'`);
  }
  if (ranges.size >= 256) ranges.clear(); // bounded, whatever calls pass
  ranges.set(version, range);
  return range;
}
