// Every adapter, through its real framework over real HTTP on 127.0.0.1: raw bytes in,
// verification, dispatch, ping, dedupe, acknowledgement before the handler's work.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { generateSecret, sign, type WebhookEvent } from '../src/index.js';
import { createHandler, type NodeWebhookHandler } from '../src/node.js';
import type { HandlerOptions } from '../src/web.js';

interface Running {
  url: string;
  close(): Promise<void>;
}

async function listen(server: http.Server): Promise<Running> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const adapters: Record<string, (h: NodeWebhookHandler) => Promise<Running>> = {
  'node:http': (h) => listen(http.createServer(h.node)),
  'express + express.raw': (h) => {
    const app = express();
    app.post('/hook', express.raw({ type: '*/*' }), h.express);
    app.use(express.json()); // the app's own JSON routes, registered after the webhook route
    return listen(http.createServer(app));
  },
  fastify: async (h) => {
    const app = Fastify();
    await app.register(h.fastify, { prefix: '/hook' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/hook`, close: () => app.close() };
  },
  'hono (fetch)': async (h) => {
    const app = new Hono();
    app.post('/hook', (c) => h.fetch(c.req.raw));
    return listen(serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as http.Server);
  },
};

const secret = generateSecret();
let counter = 0;
function signedHeaders(body: string, id = `msg_a_${++counter}`): Record<string, string> {
  const ts = Math.floor(Date.now() / 1000);
  return { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': sign(secret, id, ts, body) };
}

async function post(url: string, body: string, headers: Record<string, string>) {
  const res = await fetch(url, { method: 'POST', body, headers });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

// Unusual spacing, key order and escapes: re-serialising this JSON gives different bytes.
const oddBody = '{  "data" : {"z":1,   "a":[ 1,2 ], "s":"caf\\u00e9 \u{1F680}"},\n\t"type":"order.created"  }';

for (const [name, start] of Object.entries(adapters)) {
  describe(name, () => {
    const events: WebhookEvent[] = [];
    let releaseSlow = () => {};
    let slowStarted = false;
    let slowFinished = false;
    let signedServer: Running;
    let keyServer: Running;
    const on: HandlerOptions['on'] = {
      'order.created': (event) => void events.push(event),
      slow: async () => {
        await new Promise<void>((resolve) => {
          releaseSlow = resolve;
          slowStarted = true;
        });
        slowFinished = true;
      },
    };

    before(async () => {
      signedServer = await start(createHandler({ secret, on }));
      keyServer = await start(createHandler({ key: 'mtp_key_1', on }));
    });
    after(async () => {
      await signedServer.close();
      await keyServer.close();
    });

    test('a raw body with unusual spacing and key order is verified and dispatched as sent', async () => {
      assert.notEqual(JSON.stringify(JSON.parse(oddBody)), oddBody, 'precondition: re-serialising must change the bytes');
      const headers = signedHeaders(oddBody);
      const res = await post(signedServer.url, oddBody, headers);
      assert.deepEqual([res.status, res.text], [200, '']);
      await until(() => events.some((e) => e.id === headers['webhook-id']), 'dispatch');
      const event = events.find((e) => e.id === headers['webhook-id'])!;
      assert.equal(event.type, 'order.created');
      assert.deepEqual(event.payload, JSON.parse(oddBody));
    });

    test('a tampered body is 401 {error} and not dispatched', async () => {
      const headers = signedHeaders(oddBody);
      const res = await post(signedServer.url, oddBody.replace('"z":1', '"z":2'), headers);
      assert.equal(res.status, 401);
      assert.match(res.type ?? '', /application\/json/);
      assert.deepEqual(JSON.parse(res.text), { error: 'no_matching_signature' });
      assert.equal(events.some((e) => e.id === headers['webhook-id']), false);
    });

    test('a signed ping gets its pong', async () => {
      const body = '{"ping": "Zx81-ab"}';
      const res = await post(signedServer.url, body, signedHeaders(body));
      assert.equal(res.status, 200);
      assert.match(res.type ?? '', /application\/json/);
      assert.deepEqual(JSON.parse(res.text), { pong: 'Zx81-ab' });
    });

    test('a repeated webhook-id is acknowledged but dispatched once', async () => {
      const body = '{"type":"order.created","n":1}';
      const headers = signedHeaders(body);
      assert.equal((await post(signedServer.url, body, headers)).status, 200);
      assert.equal((await post(signedServer.url, body, headers)).status, 200);
      // Dispatches run in arrival order, so once a later message is in, a second copy would be too.
      const marker = signedHeaders(body);
      assert.equal((await post(signedServer.url, body, marker)).status, 200);
      await until(() => events.some((e) => e.id === marker['webhook-id']), 'the marker dispatch');
      assert.equal(events.filter((e) => e.id === headers['webhook-id']).length, 1);
    });

    test('the 200 arrives before the handler finishes its work', { timeout: 5000 }, async () => {
      const body = '{"type":"slow"}';
      slowStarted = slowFinished = false;
      const res = await post(signedServer.url, body, signedHeaders(body));
      assert.equal(res.status, 200);
      assert.equal(slowFinished, false);
      await until(() => slowStarted, 'the slow handler to start');
      releaseSlow();
      await until(() => slowFinished, 'the slow handler to finish');
    });

    test('static key: a wrong or missing key is 401 with no body; the right key dispatches and pongs', async () => {
      const body = '{"type":"order.created","via":"key"}';
      for (const headers of [{ 'x-webhook-key': 'mtp_key_2' }, {}] as Record<string, string>[]) {
        const res = await post(keyServer.url, body, { 'content-type': 'application/json', ...headers });
        assert.deepEqual([res.status, res.text], [401, '']);
      }
      const ping = await post(keyServer.url, '{"ping":"k"}', { 'content-type': 'application/json', 'x-webhook-key': 'mtp_key_1' });
      assert.deepEqual(JSON.parse(ping.text), { pong: 'k' });
      const ok = await post(keyServer.url, body, { 'content-type': 'application/json', 'x-webhook-key': 'mtp_key_1', 'webhook-id': 'msg_key_1' });
      assert.equal(ok.status, 200);
      await until(() => events.some((e) => e.id === 'msg_key_1'), 'dispatch');
    });
  });
}

describe('express: where the raw body comes from', () => {
  const body = '{ "type":"order.created" ,"id":7 }';
  let server: Running;
  const events: WebhookEvent[] = [];
  before(async () => {
    const h = createHandler({ secret, on: { 'order.created': (e) => void events.push(e) } });
    const app = express();
    app.post('/no-parser', h.express);
    app.post('/raw-body', express.json({ verify: (req, _res, buf) => void Object.assign(req, { rawBody: buf }) }), h.express);
    app.post('/parsed', express.json(), h.express);
    app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ message: error.message });
    });
    server = await listen(http.createServer(app));
  });
  after(() => server.close());
  const at = (path: string) => server.url.replace('/hook', path);

  test('with no body parser the middleware reads the stream itself', async () => {
    const headers = signedHeaders(body);
    assert.equal((await post(at('/no-parser'), body, headers)).status, 200);
    await until(() => events.some((e) => e.id === headers['webhook-id']), 'dispatch');
  });

  test('express.json({ verify }) that keeps req.rawBody works', async () => {
    const headers = signedHeaders(body);
    assert.equal((await post(at('/raw-body'), body, headers)).status, 200);
    await until(() => events.some((e) => e.id === headers['webhook-id']), 'dispatch');
  });

  test('after plain express.json() it fails loudly (500) instead of verifying re-serialised JSON', async () => {
    const headers = signedHeaders(body);
    const res = await post(at('/parsed'), body, headers);
    assert.equal(res.status, 500);
    assert.match(JSON.parse(res.text).message, /already parsed.*express\.raw/s);
    // One that works, sent after it: once it is dispatched, the refused one would have been.
    const next = signedHeaders(body);
    assert.equal((await post(at('/no-parser'), body, next)).status, 200);
    await until(() => events.some((e) => e.id === next['webhook-id']), 'dispatch of the one after');
    assert.equal(events.some((e) => e.id === headers['webhook-id']), false);
  });
});

describe('fastify: the buffer parser is scoped to the webhook plugin', () => {
  test('the app keeps parsing JSON elsewhere, and oversized webhook bodies are 413', async () => {
    const app = Fastify();
    app.post('/echo', async (request) => ({ got: request.body }));
    await app.register(createHandler({ secret, on: {}, maxBodyBytes: 64 }).fastify, { prefix: '/hook' });
    app.post('/echo-after', async (request) => ({ got: request.body }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      for (const path of ['/echo', '/echo-after']) {
        const res = await post(base + path, '{"a": 1}', { 'content-type': 'application/json' });
        assert.deepEqual(JSON.parse(res.text), { got: { a: 1 } });
      }
      const big = JSON.stringify({ type: 't', pad: 'x'.repeat(100) });
      assert.equal((await post(`${base}/hook`, big, signedHeaders(big))).status, 413);
      const small = '{"ping":"s"}';
      assert.equal((await post(`${base}/hook`, small, { ...signedHeaders(small), 'content-type': 'text/plain' })).text, '{"pong":"s"}');
    } finally {
      await app.close();
    }
  });
});

describe('node:http', () => {
  test('non-POST is 405 and an oversized body is 413', async () => {
    const server = await listen(http.createServer(createHandler({ secret, on: {}, maxBodyBytes: 64 }).node));
    try {
      const get = await fetch(server.url);
      assert.deepEqual([get.status, get.headers.get('allow')], [405, 'POST']);
      const big = JSON.stringify({ type: 't', pad: 'x'.repeat(100) });
      const res = await post(server.url, big, signedHeaders(big));
      assert.deepEqual([res.status, JSON.parse(res.text)], [413, { error: 'body_too_large' }]);
    } finally {
      await server.close();
    }
  });

  test('a request stream that fails (the client went away) is dropped, not left as a rejected promise', async () => {
    const h = createHandler({ secret, on: {} });
    let outcome: Promise<void> | undefined;
    const server = await listen(
      http.createServer((req, res) => {
        const broken = new PassThrough();
        broken.destroy(new Error('aborted'));
        outcome = h.node(Object.assign(broken, { method: 'POST', headers: req.headers }) as unknown as http.IncomingMessage, res);
      }),
    );
    try {
      await assert.rejects(fetch(server.url, { method: 'POST', body: '{}' }), 'the connection is dropped');
      await outcome;
    } finally {
      await server.close();
    }
  });
});

