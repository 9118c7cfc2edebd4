/**
 * The transport settings every chaos and soak process uses. Reconnects are quicker than the
 * defaults so that a scenario sees recovery within seconds; everything else is the default
 * unless a scenario says otherwise (a shorter TCP heartbeat, to see a paused peer detected).
 */
import type { Transport } from '@svc/core';
import { nats } from '@svc/transport-nats';
import { tcp, type TcpTransportOptions } from '@svc/transport-tcp';

export type TransportName = 'tcp' | 'nats';

export interface TransportTweaks {
  heartbeat?: TcpTransportOptions['heartbeat'];
}

export function makeTransport(name: TransportName, tweaks: TransportTweaks = {}): Transport {
  if (name === 'nats') return nats({ reconnectTimeWait: 100 });
  return tcp({ reconnect: { initialDelay: 50, maxDelay: 500 }, ...(tweaks.heartbeat !== undefined ? { heartbeat: tweaks.heartbeat } : {}) });
}
