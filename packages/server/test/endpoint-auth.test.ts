// Endpoint authentication beyond the signature, as real deliveries use it: OAuth 2 client
// credentials against a local token server, and a TLS receiver that demands a client
// certificate, with a CA and certificates made here by the openssl command (node:crypto
// reads X.509 but cannot issue it; openssl is on every machine Hookwell is built on, and
// spares the project a certificate library used by tests alone).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import pg from 'pg';
import { Agent } from 'undici';
import { TlsAgents } from '../src/delivery/endpoint-auth.js';
import { NO_ENDPOINT_AUTH } from '../src/domain/types.js';
import { eventually, PG_URL, query, startReceiver, startServer, tempDir, type Receiver, type TestServer } from './helpers.js';

const ON_POSTGRES = process.env.HOOKWELL_TEST_BACKEND === 'postgres';

// --- certificates -------------------------------------------------------------------------

interface Pki {
  serverCa: string;
  server: { key: string; cert: string };
  clientCa: string;
  client: { key: string; cert: string };
  /** A client certificate of another CA, which the receiver does not trust. */
  stranger: { key: string; cert: string };
}

function makePki(dir: string): Pki {
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name: string) => {
    ossl('req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  };
  const leaf = (name: string, caName: string, ext: string) => {
    ossl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    writeFileSync(join(dir, `${name}.ext`), ext);
    ossl('x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.pem`, '-CAkey', `${caName}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
    return { key: readFileSync(join(dir, `${name}.key`), 'utf8'), cert: readFileSync(join(dir, `${name}.pem`), 'utf8') };
  };
  ca('server-ca');
  ca('client-ca');
  ca('other-ca');
  return {
    serverCa: readFileSync(join(dir, 'server-ca.pem'), 'utf8'),
    server: leaf('receiver', 'server-ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'),
    clientCa: readFileSync(join(dir, 'client-ca.pem'), 'utf8'),
    client: leaf('hookwell-sender', 'client-ca', 'extendedKeyUsage=clientAuth\n'),
    stranger: leaf('stranger', 'other-ca', 'extendedKeyUsage=clientAuth\n'),
  };
}

// --- local servers ------------------------------------------------------------------------

interface TokenRequest {
  headers: IncomingHttpHeaders;
  form: URLSearchParams;
}

interface TokenServer {
  url: string;
  requests: TokenRequest[];
  answer: (n: number) => { status: number; body: unknown };
  close(): Promise<void>;
}

async function startTokenServer(): Promise<TokenServer> {
  const ts: TokenServer = {
    url: '',
    requests: [],
    answer: (n) => ({ status: 200, body: { access_token: `token-${n}`, token_type: 'Bearer', expires_in: 3600 } }),
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      ts.requests.push({ headers: req.headers, form: new URLSearchParams(Buffer.concat(chunks).toString('utf8')) });
      const a = ts.answer(ts.requests.length);
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ts.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth/token`;
  return ts;
}

interface TlsReceiver {
  url: string;
  /** The client certificate's subject CN of each request that got through. */
  peers: string[];
  close(): Promise<void>;
}

/** An HTTPS receiver that completes no handshake without a client certificate of `clientCa`. */
async function startTlsReceiver(pki: Pki): Promise<TlsReceiver> {
  const peers: string[] = [];
  const server: TlsServer = createTlsServer({ key: pki.server.key, cert: pki.server.cert, ca: pki.clientCa, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      peers.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN));
      const { ping } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { ping?: string };
      res.writeHead(200).end(ping === undefined ? 'ok' : JSON.stringify({ pong: ping }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    peers,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

// --- API helpers --------------------------------------------------------------------------

async function endpointFor(server: TestServer, url: string): Promise<{ app: string; ep: string; base: string }> {
  const app = `app-${randomBytes(4).toString('hex')}`;
  assert.equal((await server.api('POST', '/api/v1/app', { name: app, uid: app })).status, 201);
  const ep = await server.api('POST', `/api/v1/app/${app}/endpoint`, { url });
  assert.equal(ep.status, 201, ep.text);
  return { app, ep: ep.body.id as string, base: `/api/v1/app/${app}/endpoint/${ep.body.id}` };
}

async function send(server: TestServer, app: string, payload: unknown = { n: 1 }): Promise<string> {
  const res = await server.api('POST', `/api/v1/app/${app}/msg`, { eventType: 'test.event', payload });
  assert.equal(res.status, 202, res.text);
  return res.body.id as string;
}

/** The message's first recorded attempt. */
async function firstAttempt(server: TestServer, app: string, msgId: string): Promise<{ status: number; responseStatusCode: number; response: string }> {
  return eventually(async () => {
    const res = await server.api('GET', `/api/v1/app/${app}/attempt/msg/${msgId}`);
    const data = res.body.data as { status: number; responseStatusCode: number; response: string }[];
    return data.length > 0 ? data[data.length - 1] : undefined;
  }, 10_000, `an attempt of ${msgId}`);
}

/** The endpoint's stored row, as the database holds it. */
async function storedEndpoint(server: TestServer, id: string): Promise<Record<string, unknown>> {
  if (!ON_POSTGRES) return query<Record<string, unknown>>(server.dbPath, 'SELECT * FROM endpoints WHERE id = ?', id)[0]!;
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return (await c.query(`SELECT * FROM ${server.cfg.dbSchema}.endpoints WHERE id = $1`, [id])).rows[0] as Record<string, unknown>;
  } finally {
    await c.end();
  }
}

const oauth = (tokenUrl: string, extra: Record<string, unknown> = {}) => ({
  grantType: 'clientCredentials',
  authMethod: 'clientSecretBasic',
  clientId: 'hookwell client',
  clientSecret: 'OAUTH-SECRET-s3cr3t:&=',
  tokenUrl,
  scopes: ['webhooks.write', 'read'],
  ...extra,
});

// --- tests --------------------------------------------------------------------------------

describe('endpoint authentication', () => {
  let server: TestServer;
  let receiver: Receiver;
  let tokens: TokenServer;
  let pki: Pki;
  let tls: TlsReceiver;
  let cleanup: () => void;

  before(async () => {
    const tmp = tempDir();
    cleanup = tmp.cleanup;
    pki = makePki(tmp.dir);
    server = await startServer({
      HOOKWELL_RETRY_SCHEDULE: '60',
      HOOKWELL_REQUEST_TIMEOUT_MS: '3000',
      HOOKWELL_ENCRYPTION_KEYS: `t1:${randomBytes(32).toString('base64')}`,
    });
    receiver = await startReceiver();
    tokens = await startTokenServer();
    tls = await startTlsReceiver(pki);
  });
  after(async () => {
    await server.stop();
    await Promise.all([receiver.close(), tokens.close(), tls.close()]);
    cleanup();
  });

  it('sends a bearer token fetched with client credentials (Basic), and asks again only for a changed configuration', async () => {
    tokens.requests.length = 0;
    receiver.received.length = 0;
    receiver.respond = () => ({ status: 200 });
    tokens.answer = (n) => ({ status: 200, body: { access_token: `token-${n}`, token_type: 'Bearer', expires_in: 3600 } });
    const { app, base } = await endpointFor(server, `${receiver.url}/oauth`);
    const set = await server.api('PUT', `${base}/oauth`, oauth(tokens.url));
    assert.equal(set.status, 204, set.text);

    const ids = [await send(server, app), await send(server, app), await send(server, app)];
    const got = await receiver.waitFor(3);
    assert.deepEqual(got.map((r) => r.headers.authorization), ['Bearer token-1', 'Bearer token-1', 'Bearer token-1']);
    for (const id of ids) assert.equal((await firstAttempt(server, app, id)).responseStatusCode, 200);
    assert.equal(tokens.requests.length, 1, 'one token serves every delivery until it nears expiry');

    const [asked] = tokens.requests;
    const basic = Buffer.from(String(asked!.headers.authorization).replace(/^Basic /, ''), 'base64').toString('utf8');
    assert.equal(basic, 'hookwell+client:OAUTH-SECRET-s3cr3t%3A%26%3D', 'RFC 6749 2.3.1: form-encoded, then joined');
    assert.equal(asked!.form.get('grant_type'), 'client_credentials');
    assert.equal(asked!.form.get('scope'), 'webhooks.write read');
    assert.equal(asked!.form.get('client_secret'), null, 'Basic sends no secret in the body');

    // client_secret_post: a changed configuration gets a token of its own.
    assert.equal((await server.api('PUT', `${base}/oauth`, oauth(tokens.url, { authMethod: 'clientSecretPost', extraParams: { audience: 'hooks' } }))).status, 204);
    await send(server, app);
    const after = await receiver.waitFor(4);
    assert.equal(after[3]!.headers.authorization, 'Bearer token-2');
    assert.equal(tokens.requests.length, 2);
    const posted = tokens.requests[1]!;
    assert.equal(posted.headers.authorization, undefined);
    assert.equal(posted.form.get('client_id'), 'hookwell client');
    assert.equal(posted.form.get('client_secret'), 'OAUTH-SECRET-s3cr3t:&=');
    assert.equal(posted.form.get('audience'), 'hooks');
  });

  it('asks for a new token shortly before the old one expires, and after the endpoint refuses it', async () => {
    tokens.requests.length = 0;
    receiver.received.length = 0;
    // Lives 1 s; replaced half-way (the margin is at most half the lifetime).
    tokens.answer = (n) => ({ status: 200, body: { access_token: `short-${n}`, token_type: 'bearer', expires_in: 1 } });
    receiver.respond = (r) => ({ status: r.headers.authorization === 'Bearer short-2' ? 401 : 200 });
    const { app, base } = await endpointFor(server, `${receiver.url}/short`);
    assert.equal((await server.api('PUT', `${base}/oauth`, oauth(tokens.url))).status, 204);

    await send(server, app);
    await receiver.waitFor(1);
    await new Promise((r) => setTimeout(r, 700));
    const refused = await send(server, app);
    await receiver.waitFor(2);
    assert.equal((await firstAttempt(server, app, refused)).responseStatusCode, 401);
    await send(server, app);
    const got = await receiver.waitFor(3);
    assert.deepEqual(got.map((r) => r.headers.authorization), ['Bearer short-1', 'Bearer short-2', 'Bearer short-3']);
    assert.equal(tokens.requests.length, 3);
  });

  it('fails the attempt with the reason when no token comes, never showing the secret', async () => {
    tokens.requests.length = 0;
    receiver.received.length = 0;
    tokens.answer = () => ({ status: 401, body: { error: 'invalid_client', error_description: 'bad secret OAUTH-SECRET-s3cr3t:&=' } });
    const { app, base } = await endpointFor(server, `${receiver.url}/no-token`);
    assert.equal((await server.api('PUT', `${base}/oauth`, oauth(`${tokens.url}?tenant=acme`))).status, 204);
    const attempt = await firstAttempt(server, app, await send(server, app));
    assert.equal(attempt.status, 2);
    assert.equal(attempt.responseStatusCode, 0);
    assert.match(attempt.response, /^could not get an OAuth token from http:\/\/127\.0\.0\.1:\d+\/oauth\/token: .*answered 401 \(invalid_client: bad secret \*{8}\)$/);
    assert.ok(!attempt.response.includes('s3cr3t'));
    assert.ok(!attempt.response.includes('tenant'), 'the query of the token URL is not shown');
    assert.equal(receiver.received.length, 0, 'nothing is sent without a token');
  });

  it('shows the configuration without its secret, and removes it', async () => {
    const { base } = await endpointFor(server, `${receiver.url}/shown`);
    assert.equal((await server.api('GET', `${base}/oauth`)).status, 404);
    assert.deepEqual((await server.api('GET', `${base}/oauth-config`)).body, { enabled: false, config: null });
    assert.equal((await server.api('PUT', `${base}/oauth`, oauth(tokens.url, { extraHeaders: { 'X-Tenant': 'acme' } }))).status, 204);
    const shown = await server.api('GET', `${base}/oauth`);
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body, {
      grantType: 'clientCredentials',
      authMethod: 'clientSecretBasic',
      clientId: 'hookwell client',
      tokenUrl: tokens.url,
      scopes: ['webhooks.write', 'read'],
      extraParams: null,
      extraHeaders: { 'X-Tenant': 'acme' },
    });
    const config = await server.api('GET', `${base}/oauth-config`);
    assert.deepEqual(config.body, { enabled: true, config: shown.body });
    assert.ok(!config.text.includes('s3cr3t') && !(await server.api('GET', base)).text.includes('s3cr3t'));
    assert.equal((await server.api('DELETE', `${base}/oauth`)).status, 204);
    assert.equal((await server.api('GET', `${base}/oauth`)).status, 404);
    assert.equal((await server.api('DELETE', `${base}/oauth`)).status, 204);
  });

  it('refuses what it cannot send with, naming the field', async () => {
    const { base } = await endpointFor(server, `${receiver.url}/refused`);
    const cases: [Record<string, unknown>, string][] = [
      [oauth(tokens.url, { authMethod: 'clientSecretJwt' }), 'authMethod'],
      [oauth(tokens.url, { grantType: 'refreshToken' }), 'grantType'],
      [oauth(tokens.url, { clientSecret: null }), 'clientSecret'],
      [oauth('ftp://example.com/token'), 'tokenUrl'],
      [oauth(tokens.url, { extraHeaders: { 'Content-Type': 'text/plain' } }), 'extraHeaders'],
      [oauth(tokens.url, { extraParams: { grant_type: 'password' } }), 'extraParams'],
    ];
    for (const [body, field] of cases) {
      const res = await server.api('PUT', `${base}/oauth`, body);
      assert.equal(res.status, 422, `${field}: ${res.text}`);
      assert.ok(JSON.stringify(res.body.detail).includes(field), `${field}: ${res.text}`);
    }
    const badPem: [string, string, unknown, RegExp][] = [
      ['mtls', 'identity', { identity: 'not pem' }, /exactly one PEM private key/],
      ['mtls', 'identity', { identity: pki.client.cert }, /exactly one PEM private key/],
      ['mtls', 'identity', { identity: pki.client.key }, /certificate/],
      ['mtls', 'identity', { identity: pki.client.key + pki.stranger.cert }, /does not belong to the private key/],
      ['ca', 'cert', { cert: pki.client.key }, /only CA certificates/],
      ['ca', 'cert', { cert: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }, /not a valid X.509 certificate/],
    ];
    for (const [path, field, body, why] of badPem) {
      const res = await server.api('PUT', `${base}/${path}`, body);
      assert.equal(res.status, 422, res.text);
      assert.deepEqual(res.body.detail[0].loc, ['body', field]);
      assert.match(res.body.detail[0].msg, why);
    }
    assert.equal((await server.api('GET', `${base}/mtls`)).status, 404);
    assert.deepEqual((await server.api('GET', `${base}/ca`)).body, { cert: null });
  });

  it('presents the client certificate and trusts the CA set for the endpoint, and fails without either', async () => {
    const identity = pki.client.key + pki.client.cert;
    const { app, base } = await endpointFor(server, tls.url);

    // The public roots do not vouch for the receiver's certificate.
    const untrusted = await firstAttempt(server, app, await send(server, app));
    assert.equal(untrusted.status, 2);
    assert.match(untrusted.response, /certificate/i);

    // Trusting its CA is not enough: the receiver demands a client certificate.
    assert.equal((await server.api('PUT', `${base}/ca`, { cert: pki.serverCa })).status, 204);
    assert.deepEqual((await server.api('GET', `${base}/ca`)).body, { cert: pki.serverCa });
    const anonymous = await firstAttempt(server, app, await send(server, app));
    assert.equal(anonymous.status, 2);
    assert.equal(anonymous.responseStatusCode, 0);

    // A certificate of a CA it does not trust is refused too.
    assert.equal((await server.api('PUT', `${base}/mtls`, { identity: pki.stranger.key + pki.stranger.cert })).status, 204);
    const stranger = await firstAttempt(server, app, await send(server, app));
    assert.equal(stranger.status, 2);
    assert.equal(tls.peers.length, 0);

    assert.equal((await server.api('PUT', `${base}/mtls`, { identity })).status, 204);
    assert.deepEqual((await server.api('GET', `${base}/mtls`)).body, {});
    assert.deepEqual((await server.api('GET', `${base}/mtls-config`)).body, { enabled: true, config: {} });
    const ok = await firstAttempt(server, app, await send(server, app));
    assert.equal(ok.status, 0, ok.response);
    assert.equal(ok.responseStatusCode, 200);
    assert.deepEqual(tls.peers, ['hookwell-sender']);
    // The ping check reaches the endpoint as its deliveries do.
    const ping = await server.api('POST', `${base}/ping`);
    assert.equal(ping.body.ok, true, ping.text);
    assert.deepEqual(tls.peers, ['hookwell-sender', 'hookwell-sender']);

    // Removed, deliveries go without it again.
    assert.equal((await server.api('DELETE', `${base}/mtls`)).status, 204);
    assert.deepEqual((await server.api('GET', `${base}/mtls-config`)).body, { enabled: false, config: null });
    assert.equal((await firstAttempt(server, app, await send(server, app))).status, 2);
    assert.equal((await server.api('POST', `${base}/ping`)).body.ok, false);
    assert.equal((await server.api('PUT', `${base}/ca`, { cert: null })).status, 204);
    assert.deepEqual((await server.api('GET', `${base}/ca`)).body, { cert: null });
  });

  it('keeps one agent per TLS configuration, and closes those replaced, evicted or left', async () => {
    const made: Agent[] = [];
    const agents = new TlsAgents((tls) => {
      const a = new Agent({ connect: tls });
      made.push(a);
      return a;
    }, 2);
    const identity = pki.client.key + pki.client.cert;
    const mtls = { ...NO_ENDPOINT_AUTH, mtlsIdentity: identity };
    assert.equal(agents.for('ep_1', NO_ENDPOINT_AUTH), null, 'no TLS set-up: the shared agent');
    const first = agents.for('ep_1', mtls);
    assert.equal(agents.for('ep_1', { ...mtls }), first, 'the same configuration, the same agent');
    const second = agents.for('ep_1', { ...mtls, serverCa: pki.serverCa });
    assert.notEqual(second, first);
    assert.equal(first!.closed, true, 'a replaced agent is closed');
    agents.for('ep_2', mtls);
    agents.for('ep_1', { ...mtls, serverCa: pki.serverCa }); // ep_1 used last: ep_2 is the oldest
    agents.for('ep_3', mtls);
    assert.equal(agents.size, 2);
    assert.equal(made[2]!.closed, true, 'the least recently used is closed when it falls out');
    assert.equal(second!.closed, false);
    assert.equal(agents.for('ep_1', NO_ENDPOINT_AUTH), null);
    assert.equal(second!.closed, true, 'an endpoint whose TLS set-up was removed lets its agent go');
    await agents.close();
    assert.ok(made.every((a) => a.closed));
  });

  it('keeps the client secret and private key encrypted at rest; changes of different parts at once both stay', async () => {
    const { ep, base } = await endpointFor(server, tls.url);
    const set = await Promise.all([
      server.api('PUT', `${base}/oauth`, oauth(tokens.url)),
      server.api('PUT', `${base}/mtls`, { identity: pki.client.key + pki.client.cert }),
      server.api('PUT', `${base}/ca`, { cert: pki.serverCa }),
    ]);
    assert.deepEqual(set.map((r) => r.status), [204, 204, 204]);
    assert.equal((await server.api('GET', `${base}/oauth-config`)).body.enabled, true);
    assert.equal((await server.api('GET', `${base}/mtls-config`)).body.enabled, true);
    assert.equal((await server.api('GET', `${base}/ca`)).body.cert, pki.serverCa);
    const row = await storedEndpoint(server, ep);
    assert.match(String(row.oauth), /^hwe1:t1:/);
    assert.match(String(row.mtls_identity), /^hwe1:t1:/);
    const all = JSON.stringify(row);
    assert.ok(!all.includes('s3cr3t') && !all.includes('PRIVATE KEY'));
  });
});

describe('endpoint authentication without private targets', () => {
  let server: TestServer;
  let tokens: TokenServer;

  before(async () => {
    server = await startServer({ HOOKWELL_ALLOW_PRIVATE_TARGETS: 'false', HOOKWELL_RETRY_SCHEDULE: '60' });
    tokens = await startTokenServer();
  });
  after(async () => {
    await server.stop();
    await tokens.close();
  });

  it('refuses a token URL at a private address or a name that resolves to one', async () => {
    const port = new URL(tokens.url).port;
    for (const tokenUrl of [tokens.url, `http://localhost:${port}/oauth/token`]) {
      const { app, base } = await endpointFor(server, 'https://example.com/hook');
      assert.equal((await server.api('PUT', `${base}/oauth`, oauth(tokenUrl))).status, 204);
      const attempt = await firstAttempt(server, app, await send(server, app));
      assert.equal(attempt.status, 2);
      assert.match(attempt.response, /^could not get an OAuth token from .*: the target (address is not allowed|host name does not resolve to an allowed address)/);
    }
    assert.equal(tokens.requests.length, 0);
  });
});
