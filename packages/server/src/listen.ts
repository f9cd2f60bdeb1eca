// `hookwell listen`: a local receiver for development and demos. It verifies what it is
// sent with @hookwell/receiver, answers pings, prints one line per request, and can fail
// on purpose so retries can be watched.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpOrigin } from './config.js';
import { eventTypeOf, verify, verifyKey, WebhookVerificationError } from '@hookwell/receiver';

export interface ListenOptions {
  port: number;
  host: string;
  /** Signing secret (whsec_…) or public key (whpk_…); without it nothing is verified. */
  secret: string | null;
  /** Shared key expected in `keyHeader`. */
  key: string | null;
  keyHeader: string;
  /** Share of requests answered with `status` on purpose, 0 to 1. */
  failRate: number;
  status: number;
  delayMs: number;
  verbose: boolean;
  /** Where lines go; stdout by default. */
  print?: (line: string) => void;
  random?: () => number;
}

/** The type a receiver dispatches by (the payload's own, else the x-hookwell-event-type header), or "-". */
function eventType(payload: unknown, req: IncomingMessage): string {
  return eventTypeOf(payload, req.headers) ?? '-';
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

export function startListener(o: ListenOptions): Promise<{ server: Server; url: string }> {
  const print = o.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const random = o.random ?? Math.random;
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const time = new Date().toISOString();
    const id = String(req.headers['webhook-id'] ?? req.headers['svix-id'] ?? '-');
    const answer = (status: number, text = '', contentType = 'application/json') => {
      const send = () => {
        res.writeHead(status, text === '' ? {} : { 'content-type': contentType });
        res.end(text);
      };
      if (o.delayMs > 0) setTimeout(send, o.delayMs);
      else send();
    };
    const line = (type: string, outcome: string, status: number) => print(`${time}  ${type.padEnd(32)} ${id.padEnd(32)} ${outcome} -> ${status}`);

    if (req.method !== 'POST') {
      line('-', `${req.method} ${req.url}: only POST is accepted`, 405);
      return answer(405);
    }
    let verified = 'not verified (no secret given)';
    try {
      if (o.key !== null) verifyKey(req.headers as Record<string, string>, o.key, o.keyHeader);
      if (o.secret !== null) {
        verify(body, req.headers as Record<string, string>, o.secret);
        verified = 'verified';
      } else if (o.key !== null) verified = 'key matches';
    } catch (err) {
      const why = err instanceof WebhookVerificationError ? `${err.code}: ${err.message}` : String(err);
      const payload = parseJson(body);
      line(eventType(payload, req), `REJECTED (${why})`, 401);
      // A key mismatch gets no body, as the platforms that use keys ask.
      return answer(401, o.key !== null && err instanceof WebhookVerificationError && err.code === 'invalid_key' ? '' : JSON.stringify({ error: (err as WebhookVerificationError).code ?? 'invalid' }));
    }
    const payload = parseJson(body);
    const ping = payload !== null && typeof payload === 'object' && Object.keys(payload).length === 1 ? (payload as { ping?: unknown }).ping : undefined;
    if (typeof ping === 'string') {
      line('ping', verified, 200);
      return answer(200, JSON.stringify({ pong: ping }));
    }
    const type = eventType(payload, req);
    if (o.failRate > 0 && random() < o.failRate) {
      line(type, `${verified}, failing on purpose`, o.status);
      return answer(o.status, JSON.stringify({ error: 'failing on purpose (hookwell listen --fail-rate)' }));
    }
    line(type, verified, 200);
    if (o.verbose) print(JSON.stringify(payload, null, 2) ?? body.toString('utf8'));
    answer(200);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: httpOrigin(o.host, port) });
    });
  });
}
