import { Operation, OperationTable } from './operation.js';
import {
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_RPC_METHOD,
  ATTR_RPC_SYSTEM_NAME,
  OTHER_METHOD,
  RPC_SYSTEM_NAME,
} from './semconv.js';
import { clientMarksError, type StatusCode } from './status.js';

/**
 * RPC methods by service and method: span name and `rpc.method` `Service/method`. Past the
 * table's limit, and for methods a server does not have, the conventions' `_OTHER`, whose spans
 * are named after the RPC system.
 */
export function methodTable(marksError: (code: StatusCode) => boolean): OperationTable {
  const other = new Operation(RPC_SYSTEM_NAME, { [ATTR_RPC_SYSTEM_NAME]: RPC_SYSTEM_NAME, [ATTR_RPC_METHOD]: OTHER_METHOD }, marksError);
  return new OperationTable((service, method) => {
    const name = `${service}/${method}`;
    return new Operation(name, { [ATTR_RPC_SYSTEM_NAME]: RPC_SYSTEM_NAME, [ATTR_RPC_METHOD]: name }, marksError);
  }, other);
}

/**
 * Event topics for one messaging operation ('publish' on the client, 'process' on the server):
 * span name `publish orders.created`. Past the limit (pattern subscriptions can see many topics),
 * the destination is left out and the span is named after the operation alone.
 */
export function topicTable(system: string, operationName: string, operationType: string): OperationTable {
  const base = { [ATTR_MESSAGING_SYSTEM]: system, [ATTR_MESSAGING_OPERATION_NAME]: operationName, [ATTR_MESSAGING_OPERATION_TYPE]: operationType };
  // Any failure is an error for a messaging operation: there is no caller's fault to leave out.
  const other = new Operation(operationName, base, clientMarksError);
  return new OperationTable((topic) => new Operation(`${operationName} ${topic}`, { ...base, [ATTR_MESSAGING_DESTINATION_NAME]: topic }, clientMarksError), other);
}
