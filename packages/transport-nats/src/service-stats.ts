/**
 * Request and error counts per method, measured from the request's arrival to its reply (the
 * handler's whole async run), as the NATS services protocol reports them in `$SRV.STATS`. The
 * schema (io.nats.micro.v1.stats_response) requires every field, `last_error` too: it is '' until
 * an error happens, as nats.go sends it.
 */
export interface EndpointStats {
  num_requests: number;
  num_errors: number;
  last_error: string;
  /** Nanoseconds, summed over all requests. */
  processing_time: number;
  average_processing_time: number;
}

export class ServiceStats {
  readonly started = new Date().toISOString();
  /**
   * The service's methods only, made up front: a call naming a method the service does not have
   * (answered UNIMPLEMENTED) is not an endpoint and is not counted, so that a peer sending
   * made-up method names cannot grow this table.
   */
  private readonly byMethod = new Map<string, EndpointStats>();

  constructor(methods: readonly string[]) {
    for (const method of methods) this.byMethod.set(method, { num_requests: 0, num_errors: 0, last_error: '', processing_time: 0, average_processing_time: 0 });
  }

  /** One finished request; `error` is 'CODE: message' for a failed one. */
  record(method: string, elapsedMs: number, error: string | undefined): void {
    const stats = this.byMethod.get(method);
    if (stats === undefined) return;
    stats.num_requests++;
    stats.processing_time += Math.round(elapsedMs * 1e6);
    stats.average_processing_time = Math.round(stats.processing_time / stats.num_requests);
    if (error !== undefined) {
      stats.num_errors++;
      stats.last_error = error;
    }
  }

  of(method: string): EndpointStats {
    return this.byMethod.get(method) ?? { num_requests: 0, num_errors: 0, last_error: '', processing_time: 0, average_processing_time: 0 };
  }
}
