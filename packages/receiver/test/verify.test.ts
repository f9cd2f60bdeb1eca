import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import {
  HEADER_ID,
  HEADER_SIGNATURE,
  HEADER_TIMESTAMP,
  SVIX_HEADER_ID,
  SVIX_HEADER_SIGNATURE,
  SVIX_HEADER_TIMESTAMP,
  generateSecret,
  sign,
  verify,
} from '../src/index.js';
import { assertCode } from './helpers.js';

const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const bareSecret = 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const msgId = 'msg_verify_1';
const ts = 1700000000;
const body = '{"type":"invoice.paid","data":{"id":"inv_1"}}';
const parsed = JSON.parse(body) as unknown;
const now = () => ts * 1000;
const opts = { now };

function headersFor(payload: string | Uint8Array = body, timestamp = ts, s = secret) {
  return {
    [HEADER_ID]: msgId,
    [HEADER_TIMESTAMP]: String(timestamp),
    [HEADER_SIGNATURE]: sign(s, msgId, timestamp, payload),
  };
}

test('header constants', () => {
  assert.deepEqual(
    [HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE, SVIX_HEADER_ID, SVIX_HEADER_TIMESTAMP, SVIX_HEADER_SIGNATURE],
    ['webhook-id', 'webhook-timestamp', 'webhook-signature', 'svix-id', 'svix-timestamp', 'svix-signature'],
  );
});

describe('accepted inputs', () => {
  test('webhook-* headers', () => {
    assert.deepEqual(verify(body, headersFor(), secret, opts), parsed);
  });

  test('svix-* header names', () => {
    const h = headersFor();
    const svix = { 'svix-id': h[HEADER_ID], 'svix-timestamp': h[HEADER_TIMESTAMP], 'svix-signature': h[HEADER_SIGNATURE] };
    assert.deepEqual(verify(body, svix, secret, opts), parsed);
  });

  test('mixed-case header names', () => {
    const h = headersFor();
    const mixed = { 'Webhook-Id': h[HEADER_ID], 'WEBHOOK-TIMESTAMP': h[HEADER_TIMESTAMP], 'wEbHoOk-SiGnAtUrE': h[HEADER_SIGNATURE] };
    assert.deepEqual(verify(body, mixed, secret, opts), parsed);
  });

  test('Fetch Headers object, including Svix-* casing', () => {
    const h = headersFor();
    assert.deepEqual(verify(body, new Headers(h), secret, opts), parsed);
    const svix = new Headers({ 'Svix-Id': h[HEADER_ID], 'Svix-Timestamp': h[HEADER_TIMESTAMP], 'Svix-Signature': h[HEADER_SIGNATURE] });
    assert.deepEqual(verify(body, svix, secret, opts), parsed);
  });

  test('Node IncomingHttpHeaders with an array-valued signature header', () => {
    const h = headersFor();
    const node: IncomingHttpHeaders = {
      [HEADER_ID]: h[HEADER_ID],
      [HEADER_TIMESTAMP]: h[HEADER_TIMESTAMP],
      [HEADER_SIGNATURE]: ['v1,AAAA', h[HEADER_SIGNATURE]],
      'content-type': 'application/json',
    };
    assert.deepEqual(verify(body, node, secret, opts), parsed);
  });

  test('secret without whsec_ prefix', () => {
    assert.deepEqual(verify(body, headersFor(), bareSecret, opts), parsed);
    assert.deepEqual(verify(body, headersFor(body, ts, bareSecret), secret, opts), parsed);
  });

  test('multiple signatures where only one is valid, with unknown versions skipped', () => {
    const valid = headersFor()[HEADER_SIGNATURE];
    const wrong = sign(generateSecret(), msgId, ts, body);
    const v1aLookalike = `v1a,${valid.slice(3)}`;
    const header = `v2,garbage ${v1aLookalike}  ${wrong} v1,short ${valid}`;
    assert.deepEqual(verify(body, { ...headersFor(), [HEADER_SIGNATURE]: header }, secret, opts), parsed);
  });

  test('any of several secrets (rotation) verifies', () => {
    const oldSecret = generateSecret();
    assert.deepEqual(verify(body, headersFor(), [oldSecret, secret], opts), parsed);
  });

  test('timestamps exactly at the tolerance edge pass; custom tolerance honoured', () => {
    assert.deepEqual(verify(body, headersFor(body, ts - 300), secret, opts), parsed);
    assert.deepEqual(verify(body, headersFor(body, ts + 300), secret, opts), parsed);
    assert.deepEqual(verify(body, headersFor(body, ts - 3600), secret, { now, toleranceSeconds: 3600 }), parsed);
  });

  test('default clock is Date.now', () => {
    const nowTs = Math.floor(Date.now() / 1000);
    assert.deepEqual(verify(body, headersFor(body, nowTs), secret), parsed);
  });
});

describe('failure codes', () => {
  test('tampered body → no_matching_signature', () => {
    assertCode(() => verify(body.replace('inv_1', 'inv_2'), headersFor(), secret, opts), 'no_matching_signature', /signature/);
  });

  test('tampered msg id or timestamp → no_matching_signature', () => {
    assertCode(() => verify(body, { ...headersFor(), [HEADER_ID]: 'msg_other' }, secret, opts), 'no_matching_signature');
    assertCode(() => verify(body, { ...headersFor(), [HEADER_TIMESTAMP]: String(ts + 1) }, secret, opts), 'no_matching_signature');
  });

  test('wrong secret → no_matching_signature', () => {
    assertCode(() => verify(body, headersFor(), generateSecret(), opts), 'no_matching_signature');
  });

  test('truncated signature of different length → no_matching_signature (not a RangeError)', () => {
    const sig = headersFor()[HEADER_SIGNATURE];
    assertCode(() => verify(body, { ...headersFor(), [HEADER_SIGNATURE]: sig.slice(0, -2) }, secret, opts), 'no_matching_signature');
  });

  test('only unknown signature versions → no_matching_signature', () => {
    const sig = headersFor()[HEADER_SIGNATURE];
    const header = `v1a,${sig.slice(3)} v2,${sig.slice(3)}`;
    assertCode(() => verify(body, { ...headersFor(), [HEADER_SIGNATURE]: header }, secret, opts), 'no_matching_signature', /No v1 signature/);
  });

  test('old timestamp → timestamp_too_old', () => {
    assertCode(() => verify(body, headersFor(body, ts - 301), secret, opts), 'timestamp_too_old', /older/);
  });

  test('future timestamp → timestamp_too_new', () => {
    assertCode(() => verify(body, headersFor(body, ts + 301), secret, opts), 'timestamp_too_new', /future/);
  });

  test('non-integer timestamp → invalid_timestamp', () => {
    for (const bad of ['abc', '1700000000abc', '1700000000.5', '-1700000000', '1e9']) {
      assertCode(() => verify(body, { ...headersFor(), [HEADER_TIMESTAMP]: bad }, secret, opts), 'invalid_timestamp', /timestamp/);
    }
  });

  test('each missing or empty header → missing_headers', () => {
    for (const name of [HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE]) {
      const h: Record<string, string | undefined> = { ...headersFor() };
      delete h[name];
      assertCode(() => verify(body, h, secret, opts), 'missing_headers', /Missing required headers/);
      assertCode(() => verify(body, { ...headersFor(), [name]: '' }, secret, opts), 'missing_headers');
      assertCode(() => verify(body, { ...headersFor(), [name]: undefined }, secret, opts), 'missing_headers');
    }
    assertCode(() => verify(body, new Headers(), secret, opts), 'missing_headers');
  });

  test('malformed or empty secret → invalid_secret, even before header checks', () => {
    for (const bad of ['whsec_', '', 'whsec_not base64!!', 'whsec_abc']) {
      assertCode(() => verify(body, headersFor(), bad, opts), 'invalid_secret', /secret/);
    }
    assertCode(() => verify(body, {}, [], opts), 'invalid_secret');
    assertCode(() => verify(body, headersFor(), [secret, 'whsec_'], opts), 'invalid_secret');
  });

  test('correctly signed non-JSON body → invalid_payload', () => {
    assertCode(() => verify('not json', headersFor('not json'), secret, opts), 'invalid_payload', /JSON/);
    assertCode(() => verify('', headersFor(''), secret, opts), 'invalid_payload');
  });

  test('correctly signed non-UTF-8 bytes → invalid_payload', () => {
    const bytes = Buffer.from([0x22, 0xff, 0x22]);
    assertCode(() => verify(bytes, headersFor(bytes), secret, opts), 'invalid_payload', /UTF-8/);
  });
});
