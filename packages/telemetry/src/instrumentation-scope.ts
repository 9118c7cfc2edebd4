/** The instrumentation scope every tracer and meter of this package is made with. */
export const SCOPE_NAME = '@svc/telemetry';
export const SCOPE_VERSION = '0.1.0';
