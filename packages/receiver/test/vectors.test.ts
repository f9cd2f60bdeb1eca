import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { Webhook as SvixWebhook } from 'svix';
import { Webhook as StdWebhook } from 'standardwebhooks';
import { sign, verify } from '../src/index.js';

// The spec file gives no secret for its example signature, so this is the vector
// used by the standard-webhooks / svix reference library test suites.
const vector = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  msgId: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  payload: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const at = (seconds: number) => () => seconds * 1000;

test('reference libraries agree on the vector (oracle check)', () => {
  const date = new Date(vector.timestamp * 1000);
  assert.equal(new SvixWebhook(vector.secret).sign(vector.msgId, date, vector.payload), vector.signature);
  assert.equal(new StdWebhook(vector.secret).sign(vector.msgId, date, vector.payload), vector.signature);
});

test('sign reproduces the vector for string, bytes and bare-base64 secret', () => {
  assert.equal(sign(vector.secret, vector.msgId, vector.timestamp, vector.payload), vector.signature);
  assert.equal(sign(vector.secret, vector.msgId, vector.timestamp, Buffer.from(vector.payload)), vector.signature);
  assert.equal(sign(vector.secret, vector.msgId, vector.timestamp, new TextEncoder().encode(vector.payload)), vector.signature);
  assert.equal(sign(vector.secret.slice('whsec_'.length), vector.msgId, vector.timestamp, vector.payload), vector.signature);
});

test('verify accepts the vector and returns the parsed body', () => {
  const headers = {
    'webhook-id': vector.msgId,
    'webhook-timestamp': String(vector.timestamp),
    'webhook-signature': vector.signature,
  };
  assert.deepEqual(verify(vector.payload, headers, vector.secret, { now: at(vector.timestamp) }), { test: 2432232314 });
});
