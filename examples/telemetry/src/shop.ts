// Two services the server process runs: Shop.checkout calls Inventory.reserve, a downstream call
// made with `parent: ctx`, so its spans nest under the checkout's server span.
import { Method, RpcError, Service, type CallContext, type Client, type Logger } from '@svc/core';

export interface Order {
  item: string;
  qty: number;
}

@Service('Inventory')
export class Inventory {
  private readonly stock = new Map([
    ['tea', 10],
    ['cake', 0],
  ]);

  @Method()
  async reserve(order: Order): Promise<{ left: number }> {
    const have = this.stock.get(order.item);
    if (have === undefined) throw new RpcError('NOT_FOUND', `no item '${order.item}'`);
    if (have < order.qty) throw new RpcError('FAILED_PRECONDITION', `only ${have} ${order.item} left`);
    this.stock.set(order.item, have - order.qty);
    return { left: have - order.qty };
  }
}

@Service('Shop')
export class Shop {
  constructor(
    private readonly inventory: Client,
    private readonly logger: Logger,
  ) {}

  @Method()
  async checkout(order: Order, ctx: CallContext): Promise<{ ok: true; left: number }> {
    // Written inside the checkout's server span: the log line carries its trace and span ids.
    this.logger.info(`checkout of ${order.qty} ${order.item}`);
    const { left } = await this.inventory.invoke<{ left: number }>('Inventory', 'reserve', order, { parent: ctx });
    return { ok: true, left };
  }
}
