import { isSpanContextValid, trace } from '@opentelemetry/api';
import type { Logger } from '@svc/core';
import pino from 'pino';

/** The ids of the active span, under the names of the OpenTelemetry log data model. */
export interface TraceLogFields {
  trace_id?: string;
  span_id?: string;
  trace_flags?: string;
}

/**
 * `trace_id`, `span_id` and `trace_flags` of the span active now (inside a handler: its server
 * span), or nothing outside any span. Pass it to pino as `mixin` to have them on every line.
 */
export function traceLogFields(): TraceLogFields {
  const span = trace.getActiveSpan();
  if (span === undefined) return {};
  const context = span.spanContext();
  if (!isSpanContextValid(context)) return {};
  return { trace_id: context.traceId, span_id: context.spanId, trace_flags: `0${context.traceFlags.toString(16)}` };
}

function isPino(value: unknown): value is pino.Logger {
  return typeof value === 'object' && value !== null && typeof (value as pino.Logger).child === 'function' && typeof (value as pino.Logger).info === 'function';
}

/**
 * The core `Logger` (ServerOptions.logger and the like) on pino, every line with the trace ids of
 * the span active when it is written. Give it a pino logger, or pino's options (and a
 * destination) to make one whose own lines carry the ids too. Extra arguments go to `args`.
 */
export function pinoLogger(target: pino.Logger | pino.LoggerOptions = {}, destination?: pino.DestinationStream): Logger {
  if (isPino(target)) return wrap(target, traceLogFields);
  const mixin = target.mixin;
  // Our fields and the caller's own mixin's, merged: theirs win on a clash.
  const options: pino.LoggerOptions = { ...target, mixin: (object, level, logger) => ({ ...traceLogFields(), ...(mixin?.(object, level, logger) ?? {}) }) };
  return wrap(destination === undefined ? pino(options) : pino(options, destination), () => ({}));
}

function wrap(logger: pino.Logger, fields: () => object): Logger {
  const write = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, ...args: unknown[]): void => {
    if (!logger.isLevelEnabled(level)) return;
    logger[level](args.length === 0 ? fields() : { ...fields(), args }, message);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}
