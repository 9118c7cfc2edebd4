/** The little a framework needs to say; pass pino, console or your own. */
export interface Logger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

const noop = (): void => {};

/** Writes warnings and errors to the console, drops the rest. The default. */
export const consoleLogger: Logger = {
  debug: noop,
  info: noop,
  warn: (message, ...args) => console.warn(`[svc] ${message}`, ...args),
  error: (message, ...args) => console.error(`[svc] ${message}`, ...args),
};

export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
