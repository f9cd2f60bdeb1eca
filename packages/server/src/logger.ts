import pino, { type Logger } from 'pino';

// Credentials never reach the log: request headers that carry them are redacted.
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'hookwell' },
      redact: {
        paths: ['req.headers.authorization', 'headers.authorization', '*.headers.authorization', 'headers["x-webhook-key"]'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
