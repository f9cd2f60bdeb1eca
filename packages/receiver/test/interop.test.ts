import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { Webhook as SvixWebhook } from 'svix';
import { Webhook as StdWebhook } from 'standardwebhooks';
import { generateSecret, sign, signatureHeader, verify } from '../src/index.js';
import { assertCode } from './helpers.js';

// The reference verifiers read the real clock, so these tests sign "now".
const nowSeconds = () => Math.floor(Date.now() / 1000);
const secret = generateSecret();
const msgId = 'msg_interop_1';
const unicodeJson = '{"name":"Zoë Ñandú","emoji":"🚀","cjk":"日本語"}';
const unicodeBytes = Buffer.from(unicodeJson, 'utf8');
const unicodeValue = JSON.parse(unicodeJson) as unknown;

function webhookHeaders(ts: number, signature: string) {
  return { 'webhook-id': msgId, 'webhook-timestamp': String(ts), 'webhook-signature': signature };
}
function svixHeaders(ts: number, signature: string) {
  return { 'svix-id': msgId, 'svix-timestamp': String(ts), 'svix-signature': signature };
}

describe('theirs → ours', () => {
  test('svix-signed string payload verifies with svix-* headers', () => {
    const ts = nowSeconds();
    const sig = new SvixWebhook(secret).sign(msgId, new Date(ts * 1000), '{"a":1}');
    assert.deepEqual(verify('{"a":1}', svixHeaders(ts, sig), secret), { a: 1 });
  });

  test('svix-signed non-ASCII bytes payload verifies as Buffer and as plain Uint8Array', () => {
    const ts = nowSeconds();
    const sig = new SvixWebhook(secret).sign(msgId, new Date(ts * 1000), unicodeBytes);
    assert.deepEqual(verify(unicodeBytes, svixHeaders(ts, sig), secret), unicodeValue);
    assert.deepEqual(verify(new Uint8Array(unicodeBytes), svixHeaders(ts, sig), secret), unicodeValue);
  });

  test('standardwebhooks-signed non-ASCII payload verifies as string and bytes', () => {
    const ts = nowSeconds();
    const sig = new StdWebhook(secret).sign(msgId, new Date(ts * 1000), unicodeBytes);
    assert.deepEqual(verify(unicodeJson, webhookHeaders(ts, sig), secret), unicodeValue);
    assert.deepEqual(verify(unicodeBytes, webhookHeaders(ts, sig), secret), unicodeValue);
  });

  test('a body tampered after reference signing is rejected', () => {
    const ts = nowSeconds();
    const sig = new StdWebhook(secret).sign(msgId, new Date(ts * 1000), '{"amount":1}');
    assertCode(() => verify('{"amount":100}', webhookHeaders(ts, sig), secret), 'no_matching_signature');
  });
});

describe('ours → theirs', () => {
  test('our signature over non-ASCII bytes verifies with svix (svix-* headers)', () => {
    const ts = nowSeconds();
    const sig = sign(secret, msgId, ts, unicodeBytes);
    assert.deepEqual(new SvixWebhook(secret).verify(unicodeBytes, svixHeaders(ts, sig)), unicodeValue);
  });

  test('our signature over non-ASCII bytes and string verifies with standardwebhooks', () => {
    const ts = nowSeconds();
    const std = new StdWebhook(secret);
    assert.deepEqual(std.verify(unicodeBytes, webhookHeaders(ts, sign(secret, msgId, ts, unicodeBytes))), unicodeValue);
    assert.deepEqual(std.verify(unicodeJson, webhookHeaders(ts, sign(secret, msgId, ts, unicodeJson))), unicodeValue);
  });

  test('references reject our signature when the body was tampered', () => {
    const ts = nowSeconds();
    const sig = sign(secret, msgId, ts, '{"amount":1}');
    assert.throws(() => new SvixWebhook(secret).verify('{"amount":100}', svixHeaders(ts, sig)), /No matching signature/);
    assert.throws(() => new StdWebhook(secret).verify('{"amount":100}', webhookHeaders(ts, sig)), /No matching signature/);
  });

  test('rotation header verifies with either the old or the new secret in both references', () => {
    const ts = nowSeconds();
    const oldSecret = generateSecret();
    const newSecret = generateSecret(32);
    const header = signatureHeader([oldSecret, newSecret], msgId, ts, unicodeBytes);
    assert.equal(header.split(' ').length, 2);
    for (const s of [oldSecret, newSecret]) {
      assert.deepEqual(new SvixWebhook(s).verify(unicodeBytes, svixHeaders(ts, header)), unicodeValue);
      assert.deepEqual(new StdWebhook(s).verify(unicodeBytes, webhookHeaders(ts, header)), unicodeValue);
      assert.deepEqual(verify(unicodeBytes, webhookHeaders(ts, header), s), unicodeValue);
    }
    assert.throws(() => new StdWebhook(generateSecret()).verify(unicodeBytes, webhookHeaders(ts, header)));
  });
});
