/**
 * Request and error counts per method, measured from the request's arrival to its reply (the
 * handler's whole async run), as the NATS services protocol reports them in `$SRV.STATS`.
 */
export interface EndpointStats {
  num_requests: number;
  num_errors: number;
  last_error?: string;
  /** Nanoseconds, summed over all requests. */
  processing_time: number;
  average_processing_time: number;
}

export class ServiceStats {
  readonly started = new Date().toISOString();
  private readonly byMethod = new Map<string, EndpointStats>();

  /** One finished request; `error` is 'CODE: message' for a failed one. */
  record(method: string, elapsedMs: number, error: string | undefined): void {
    let stats = this.byMethod.get(method);
    if (stats === undefined) {
      stats = { num_requests: 0, num_errors: 0, processing_time: 0, average_processing_time: 0 };
      this.byMethod.set(method, stats);
    }
    stats.num_requests++;
    stats.processing_time += Math.round(elapsedMs * 1e6);
    stats.average_processing_time = Math.round(stats.processing_time / stats.num_requests);
    if (error !== undefined) {
      stats.num_errors++;
      stats.last_error = error;
    }
  }

  of(method: string): EndpointStats {
    return this.byMethod.get(method) ?? { num_requests: 0, num_errors: 0, processing_time: 0, average_processing_time: 0 };
  }
}
