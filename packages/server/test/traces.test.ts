import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { ConfigError, loadConfig } from '../src/config.js';
import { traceContextOf } from '../src/domain/trace-context.js';
import { ATTEMPT_SPAN, INGEST_SPAN } from '../src/tracing.js';
import { acmeWithEndpoint, startReceiver, startServer } from './helpers.js';

// OTLP/JSON as the exporter posts it: ids in hex, attributes as typed values.
interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: OtlpValue }[];
  links?: { traceId: string; spanId: string }[];
  status?: { code?: number };
}
interface OtlpExport {
  resourceSpans: { resource: { attributes: { key: string; value: OtlpValue }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}

const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;
const STATUS_ERROR = 2;

/** A minimal OTLP/HTTP trace receiver on loopback, keeping what it is sent. */
async function startCollector(): Promise<{ url: string; exports: OtlpExport[]; contentTypes: string[]; close(): Promise<void> }> {
  const exports: OtlpExport[] = [];
  const contentTypes: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      contentTypes.push(req.headers['content-type'] ?? '');
      exports.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    exports,
    contentTypes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const spansOf = (exports: OtlpExport[]): OtlpSpan[] => exports.flatMap((e) => e.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
const attr = (attributes: { key: string; value: OtlpValue }[], key: string): string | number | boolean | undefined => {
  const v = attributes.find((a) => a.key === key)?.value;
  if (v === undefined) return undefined;
  if (v.intValue !== undefined) return Number(v.intValue);
  return v.stringValue ?? v.boolValue;
};
const hex = (bytes: number): string => randomBytes(bytes).toString('hex');
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

test('with tracing off, the message keeps the traceparent it was sent with and its deliveries carry it unchanged; a malformed one is ignored', async () => {
  const receiver = await startReceiver();
  const server = await startServer();
  try {
    assert.equal(server.cfg.tracing, null);
    await acmeWithEndpoint(server, receiver.url);
    const traceparent = `00-${hex(16)}-${hex(8)}-01`;
    const cases: [string, Record<string, string>][] = [
      ['traced', { traceparent, tracestate: 'a=1,b=2' }],
      ['untraced', {}],
      ['malformed', { traceparent: `00-${'0'.repeat(32)}-${hex(8)}-01`, tracestate: 'a=1' }],
      ['upper-case', { traceparent: traceparent.toUpperCase() }],
    ];
    const ids = new Map<string, string>();
    for (const [name, headers] of cases) {
      const r = await server.api('POST', '/api/v1/app/acme/msg', { eventType: 'user.created', payload: { name } }, headers);
      assert.equal(r.status, 202, `${name}: ${r.text}`);
      ids.set(r.body.id as string, name);
    }
    const got = await receiver.waitFor(cases.length);
    const byName = new Map(got.map((r) => [ids.get(String(r.headers['webhook-id'])), r.headers]));
    assert.equal(byName.get('traced')?.traceparent, traceparent);
    assert.equal(byName.get('traced')?.tracestate, 'a=1,b=2');
    for (const name of ['untraced', 'malformed', 'upper-case']) {
      assert.equal(byName.get(name)?.traceparent, undefined, `${name}: no traceparent`);
      assert.equal(byName.get(name)?.tracestate, undefined, `${name}: no tracestate`);
    }
    // Off, nothing of the SDK is loaded (this test runs before any that turns tracing on; the
    // SDK's packages are CommonJS, so a load shows in the module cache).
    // The API package alone may be there: prom-client (metrics) requires it for exemplars.
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('@opentelemetry') && !k.includes('@opentelemetry/api/'));
    assert.deepEqual(loaded, [], 'no OpenTelemetry SDK module is loaded with tracing off');
  } finally {
    await server.stop();
    await receiver.close();
  }
});

test('with an OTLP endpoint, ingest and each attempt are spans of the caller’s trace, and the attempt sends its own context', async () => {
  const collector = await startCollector();
  const receiver = await startReceiver();
  // The second message's first attempt fails, so a failed attempt's span is seen too.
  receiver.respond = (r) => ({ status: r.body.toString().includes('"fail":true') && !failedOnce++ ? 500 : 200 });
  let failedOnce = 0;
  const server = await startServer({
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
    OTEL_SERVICE_NAME: 'hookwell-traces-test',
    HOOKWELL_RETRY_SCHEDULE: '0',
  });
  let stopped = false;
  try {
    assert.equal(server.cfg.tracing?.url, `${collector.url}/v1/traces`);
    const endpointId = await acmeWithEndpoint(server, receiver.url);
    const traceId = hex(16);
    const callerSpan = hex(8);
    const sent = await server.api('POST', '/api/v1/app/acme/msg', { eventType: 'user.created', payload: { n: 1 } }, {
      traceparent: `00-${traceId}-${callerSpan}-01`,
      tracestate: 'platform=abc',
    });
    assert.equal(sent.status, 202, sent.text);
    const msgId = sent.body.id as string;
    const failing = await server.api('POST', '/api/v1/app/acme/msg', { eventType: 'user.created', payload: { fail: true } });
    assert.equal(failing.status, 202, failing.text);
    const refused = await server.api('POST', '/api/v1/app/acme/msg', { payload: {} }, { traceparent: `00-${hex(16)}-${hex(8)}-01` });
    assert.equal(refused.status, 422, refused.text);
    const unauthorized = await server.api('POST', '/api/v1/app/acme/msg', { eventType: 'user.created', payload: {} }, { authorization: 'Bearer wrong-token-0123456789' });
    assert.equal(unauthorized.status, 401, unauthorized.text);

    const got = await receiver.waitFor(3);
    const appId = (await server.api('GET', '/api/v1/app/acme')).body.id as string;
    const first = got.find((r) => r.headers['webhook-id'] === msgId)!;
    const m = TRACEPARENT.exec(String(first.headers.traceparent));
    assert.ok(m, `the delivery carries a valid traceparent, got ${first.headers.traceparent}`);
    assert.equal(m[1], traceId, "the delivery continues the caller's trace");
    assert.notEqual(m[2], callerSpan, "its parent is the attempt's span, not the caller's");
    assert.equal(first.headers.tracestate, 'platform=abc', 'the tracestate travels with it');

    await server.stop();
    stopped = true;
    const spans = spansOf(collector.exports);
    assert.ok(collector.contentTypes.every((t) => t.startsWith('application/json')), `OTLP/HTTP with JSON bodies, got ${collector.contentTypes}`);
    const resource = collector.exports[0]!.resourceSpans[0]!.resource.attributes;
    assert.equal(attr(resource, 'service.name'), 'hookwell-traces-test');

    const ingest = spans.find((s) => s.name === INGEST_SPAN && attr(s.attributes, 'hookwell.message.id') === msgId);
    assert.ok(ingest, `an ingest span for ${msgId} among ${spans.map((s) => s.name)}`);
    assert.equal(ingest.kind, SPAN_KIND_SERVER);
    assert.equal(ingest.traceId, traceId);
    assert.equal(ingest.parentSpanId, callerSpan, "the ingest span's parent is the caller's span");
    assert.equal(attr(ingest.attributes, 'hookwell.app.id'), appId);
    assert.equal(attr(ingest.attributes, 'hookwell.event_type'), 'user.created');
    assert.equal(attr(ingest.attributes, 'hookwell.outcome'), 'accepted');
    assert.equal(attr(ingest.attributes, 'http.response.status_code'), 202);

    const attempt = spans.find((s) => s.name === ATTEMPT_SPAN && attr(s.attributes, 'hookwell.message.id') === msgId);
    assert.ok(attempt, `an attempt span for ${msgId}`);
    assert.equal(attempt.kind, SPAN_KIND_CLIENT);
    assert.equal(attempt.traceId, traceId);
    assert.equal(attempt.parentSpanId, ingest.spanId, "the attempt's parent is the message's stored context, its ingest span");
    assert.deepEqual(attempt.links?.map((l) => [l.traceId, l.spanId]), [[traceId, ingest.spanId]], 'and it links to the ingest span');
    assert.equal(attempt.spanId, m[2], 'the traceparent sent is the attempt span’s own');
    assert.equal(attr(attempt.attributes, 'hookwell.endpoint.id'), endpointId);
    assert.equal(attr(attempt.attributes, 'hookwell.attempt'), 1);
    assert.equal(attr(attempt.attributes, 'http.response.status_code'), 200);
    assert.equal(attr(attempt.attributes, 'hookwell.outcome'), 'success');

    // The message sent without a trace: a trace of its own, begun at ingest; two attempts.
    const failingIngest = spans.find((s) => s.name === INGEST_SPAN && attr(s.attributes, 'hookwell.message.id') === failing.body.id)!;
    assert.equal(failingIngest.parentSpanId ?? '', '', 'no incoming traceparent: the ingest span is a root');
    const retries = spans
      .filter((s) => s.name === ATTEMPT_SPAN && attr(s.attributes, 'hookwell.message.id') === failing.body.id)
      .sort((a, b) => Number(attr(a.attributes, 'hookwell.attempt')) - Number(attr(b.attributes, 'hookwell.attempt')));
    assert.deepEqual(retries.map((s) => [attr(s.attributes, 'hookwell.attempt'), attr(s.attributes, 'http.response.status_code'), attr(s.attributes, 'hookwell.outcome')]), [
      [1, 500, 'failure'],
      [2, 200, 'success'],
    ]);
    assert.equal(retries[0]!.status?.code, STATUS_ERROR, 'a failed attempt is an error span');
    assert.ok(retries.every((s) => s.traceId === failingIngest.traceId && s.parentSpanId === failingIngest.spanId), 'retries are children of the same ingest');

    const refusedSpans = spans.filter((s) => s.name === INGEST_SPAN && attr(s.attributes, 'hookwell.outcome') === 'refused');
    assert.deepEqual(refusedSpans.map((s) => attr(s.attributes, 'http.response.status_code')).sort(), [401, 422], 'a refused message has an ingest span, refused by validation or by authentication');
    assert.ok(refusedSpans.every((s) => attr(s.attributes, 'hookwell.message.id') === undefined && s.status?.code !== STATUS_ERROR), "a refusal is the caller's error, not the span's");
    assert.deepEqual(spans.filter((s) => s.name === INGEST_SPAN).length, 4, 'one ingest span per request');
  } finally {
    if (!stopped) await server.stop();
    await receiver.close();
    await collector.close();
  }
});

test("a message's trace context replaces an endpoint's own headers of its names; without one, the endpoint's go out", async () => {
  const receiver = await startReceiver();
  const server = await startServer();
  try {
    assert.equal((await server.api('POST', '/api/v1/app', { name: 'Beta', uid: 'beta' })).status, 201);
    const ep = await server.api('POST', '/api/v1/app/beta/endpoint', {
      url: receiver.url + '/beta',
      headers: { Traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-00`, TraceState: 'endpoint=1', 'x-team': 'beta' },
    });
    assert.equal(ep.status, 201, ep.text);
    const traceparent = `00-${hex(16)}-${hex(8)}-01`;
    const traced = await server.api('POST', '/api/v1/app/beta/msg', { eventType: 'user.created', payload: {} }, { traceparent });
    const plain = await server.api('POST', '/api/v1/app/beta/msg', { eventType: 'user.created', payload: {} });
    assert.equal(traced.status, 202, traced.text);
    assert.equal(plain.status, 202, plain.text);
    const got = await receiver.waitFor(2);
    const of = (id: string) => got.find((r) => r.headers['webhook-id'] === id)!.headers;
    // Node's server joins a repeated header with ", ": one value means one header.
    assert.equal(of(traced.body.id).traceparent, traceparent);
    assert.equal(of(traced.body.id).tracestate, undefined, "the endpoint's tracestate goes with its traceparent");
    assert.equal(of(traced.body.id)['x-team'], 'beta');
    assert.equal(of(plain.body.id).traceparent, `00-${'1'.repeat(32)}-${'2'.repeat(16)}-00`);
    assert.equal(of(plain.body.id).tracestate, 'endpoint=1');
  } finally {
    await server.stop();
    await receiver.close();
  }
});

test('traceContextOf keeps valid W3C trace contexts and ignores the rest', () => {
  const tp = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
  assert.deepEqual(traceContextOf(tp, undefined), { traceparent: tp, tracestate: null });
  assert.deepEqual(traceContextOf(tp, ['x=1', 'y=2']), { traceparent: tp, tracestate: 'x=1,y=2' });
  assert.deepEqual(traceContextOf(tp, 'x'.repeat(600)), { traceparent: tp, tracestate: null }, 'an over-long tracestate is dropped');
  assert.deepEqual(traceContextOf(tp, 'x=\u00e9'), { traceparent: tp, tracestate: null }, 'a tracestate outside printable ASCII is dropped');
  // A later version's extra fields are dropped and the context is sent on as version 00.
  assert.deepEqual(traceContextOf(`01-${'a'.repeat(32)}-${'b'.repeat(16)}-01-extra`, undefined), { traceparent: tp, tracestate: null });
  for (const bad of [
    undefined,
    '',
    tp.toUpperCase(),
    `ff-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
    `00-${'0'.repeat(32)}-${'b'.repeat(16)}-01`,
    `00-${'a'.repeat(32)}-${'0'.repeat(16)}-01`,
    `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01-extra`,
    `00-${'a'.repeat(31)}-${'b'.repeat(16)}-01`,
    `00_${'a'.repeat(32)}_${'b'.repeat(16)}_01`,
  ]) {
    assert.equal(traceContextOf(bad, 'a=1'), null, `refused: ${bad}`);
  }
});

test('tracing is configured by the standard OTEL_* variables, and off unless an endpoint is set', () => {
  const base = { HOOKWELL_ADMIN_TOKEN: 'test-admin-token-0123456789' };
  const load = (env: Record<string, string>) => loadConfig({}, { ...base, ...env }).tracing;
  assert.equal(load({}), null);
  assert.deepEqual(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }), {
    serviceName: 'hookwell',
    url: 'http://collector:4318/v1/traces',
    shownUrl: 'http://collector:4318/v1/traces',
  });
  assert.equal(load({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://u:p@otel.example.com/in?k=1', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://other:4318' })?.url, 'https://u:p@otel.example.com/in?k=1');
  assert.equal(load({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://u:p@otel.example.com/in?k=1' })?.shownUrl, 'https://otel.example.com/in');
  assert.equal(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SERVICE_NAME: 'hooks-eu' })?.serviceName, 'hooks-eu');
  assert.equal(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }), null);
  assert.equal(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }), null);
  assert.throws(() => load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), (e: unknown) => e instanceof ConfigError && /OTEL_EXPORTER_OTLP_PROTOCOL.*grpc/.test(e.message));
  assert.throws(() => load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'zipkin' }), (e: unknown) => e instanceof ConfigError && /OTEL_TRACES_EXPORTER/.test(e.message));
  assert.throws(() => load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }), (e: unknown) => e instanceof ConfigError && /OTEL_EXPORTER_OTLP_ENDPOINT/.test(e.message));
});
