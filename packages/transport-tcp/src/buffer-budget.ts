/**
 * The bytes of incomplete frames that all connections of one listener hold, against one cap
 * (`maxBufferedBytes`). Each connection adds what its decoder holds after a read and takes it back
 * when it closes, so the sum is exact without walking the connections.
 */
export class BufferBudget {
  used = 0;
  readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }
}
