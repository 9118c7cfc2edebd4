import { ClientCall } from './client-call.js';
import type { NodeRoute } from './node-route.js';

/**
 * A call that brought its own route (CallOptions.route): made only for such calls, so that the
 * others carry no field for it.
 */
export class RoutedCall extends ClientCall {
  /** The call's route over the client's and the service's; undefined when it lets every node through. */
  route: NodeRoute | undefined = undefined;
}
