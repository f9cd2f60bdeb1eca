import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHmac } from 'node:crypto';
import { generateSecret, sign, signatureHeader } from '../src/index.js';

const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const key = Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64');

test('bytes payloads are signed exactly, not via a lossy UTF-8 decode', () => {
  const invalidUtf8 = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
  const expected = createHmac('sha256', key)
    .update(Buffer.concat([Buffer.from('msg_1.1700000000.'), invalidUtf8]))
    .digest('base64');
  assert.equal(sign(secret, 'msg_1', 1700000000, invalidUtf8), `v1,${expected}`);
  assert.notEqual(sign(secret, 'msg_1', 1700000000, invalidUtf8), sign(secret, 'msg_1', 1700000000, invalidUtf8.toString()));
});

test('signatureHeader joins one signature per secret in order', () => {
  const other = generateSecret();
  assert.equal(
    signatureHeader([secret, other], 'msg_1', 1700000000, '{}'),
    `${sign(secret, 'msg_1', 1700000000, '{}')} ${sign(other, 'msg_1', 1700000000, '{}')}`,
  );
});

test('sign rejects malformed secrets and non-integer timestamps', () => {
  assert.throws(() => sign('whsec_', 'msg_1', 1700000000, '{}'), TypeError);
  assert.throws(() => sign('whsec_not base64!', 'msg_1', 1700000000, '{}'), TypeError);
  assert.throws(() => sign(secret, 'msg_1', 1700000000.5, '{}'), TypeError);
  assert.throws(() => sign(secret, 'msg_1', -1, '{}'), TypeError);
});

test('generateSecret returns whsec_ + base64 of the requested number of random bytes', () => {
  const a = generateSecret();
  assert.match(a, /^whsec_[A-Za-z0-9+/]+=*$/);
  assert.equal(Buffer.from(a.slice(6), 'base64').length, 24);
  assert.equal(Buffer.from(generateSecret(64).slice(6), 'base64').length, 64);
  assert.notEqual(a, generateSecret());
  assert.throws(() => generateSecret(16), RangeError);
  assert.throws(() => generateSecret(65), RangeError);
});
