import { Method, Service, type CallContext, type int32 } from '@svc/core';

export interface StockQuery {
  sku: string;
}

export interface StockLevel {
  sku: string;
  units: int32;
  /** Which server process answered. */
  server: string;
  /** Which attempt of the caller's call this was: 1, or 2 and up after a failover. */
  attempt: int32;
}

/** How long a lookup takes, ms: long enough that a server killed under traffic has calls in flight. */
const LOOKUP_MS = 2;

@Service('Inventory', { version: '1.0.0' })
export class Inventory {
  constructor(private readonly name: string) {}

  /**
   * Reads a stock level: running it twice is harmless, so it is marked idempotent. svc-gen writes
   * that into the schema (src/generated), and a client given the schema may retry a call of it
   * on another server even after the first one may have run it.
   */
  @Method({ idempotent: true })
  async stock(query: StockQuery, ctx: CallContext): Promise<StockLevel> {
    await new Promise((resolve) => setTimeout(resolve, LOOKUP_MS));
    return { sku: query.sku, units: unitsOf(query.sku), server: this.name, attempt: ctx.attempt };
  }
}

/** The same answer from every server: a stand-in for a shared database. */
function unitsOf(sku: string): number {
  let h = 0;
  for (const c of sku) h = (h * 31 + c.charCodeAt(0)) % 1000;
  return h;
}
