/**
 * The names telemetry uses, from the OpenTelemetry semantic conventions. RPC, server, network,
 * error and service names are stable and come from @opentelemetry/semantic-conventions; the
 * messaging ones are still in development there (its `/incubating` entry, which may change in a
 * minor release), so they are copied here, as that package advises.
 */
export {
  ATTR_CODE_FUNCTION_NAME,
  ATTR_ERROR_TYPE,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_RPC_METHOD,
  ATTR_RPC_METHOD_ORIGINAL,
  ATTR_RPC_STATUS_CODE,
  ATTR_RPC_SYSTEM_NAME,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_INSTANCE_ID,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  METRIC_RPC_CLIENT_CALL_DURATION,
  METRIC_RPC_SERVER_CALL_DURATION,
} from '@opentelemetry/semantic-conventions';

export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const METRIC_MESSAGING_CLIENT_OPERATION_DURATION = 'messaging.client.operation.duration';
export const METRIC_MESSAGING_CLIENT_SENT_MESSAGES = 'messaging.client.sent.messages';
export const METRIC_MESSAGING_PROCESS_DURATION = 'messaging.process.duration';

/** `rpc.system.name` of @svc calls (the conventions allow a custom value where none is listed). */
export const RPC_SYSTEM_NAME = 'svc';

/** `rpc.method` of a method the server does not know: the conventions' fixed value. */
export const OTHER_METHOD = '_OTHER';

/** The bucket boundaries (seconds) the conventions give the RPC and messaging duration histograms. */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]);

/** Custom names (not in the conventions), under the framework's own prefix. */
export const ATTR_SVC_ATTEMPT = 'svc.attempt';
export const ATTR_SVC_HEDGE = 'svc.attempt.hedge';
export const ATTR_SVC_ATTEMPTS = 'svc.attempts';
export const METRIC_SVC_CLIENT_ACTIVE_CALLS = 'svc.rpc.client.active_calls';
export const METRIC_SVC_SERVER_ACTIVE_CALLS = 'svc.rpc.server.active_calls';
export const METRIC_SVC_CLIENT_ATTEMPTS = 'svc.rpc.client.attempts';
export const METRIC_SVC_SERVER_CONNECTIONS = 'svc.server.connections';
export const METRIC_SVC_SERVER_BUFFERED_BYTES = 'svc.server.buffered_bytes';
export const METRIC_SVC_SERVER_UNSENT_BYTES = 'svc.server.unsent_bytes';
export const METRIC_SVC_SERVER_RECEIVED_BYTES = 'svc.server.received_bytes';
export const METRIC_SVC_SERVER_SENT_BYTES = 'svc.server.sent_bytes';
export const METRIC_SVC_BREAKERS = 'svc.resilience.breakers';
export const METRIC_SVC_BREAKER_TRANSITIONS = 'svc.resilience.breaker.transitions';
export const METRIC_SVC_SHEDDER_DELAY = 'svc.resilience.shedder.event_loop_delay';
export const METRIC_SVC_SHEDDER_SHARE = 'svc.resilience.shedder.shed_share';
export const METRIC_SVC_SHEDDER_CALLS = 'svc.resilience.shedder.calls';
export const ATTR_SVC_BREAKER_STATE = 'svc.breaker.state';
export const ATTR_SVC_SHEDDER_OUTCOME = 'svc.shedder.outcome';
