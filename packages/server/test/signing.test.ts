// Which secrets sign: the one rule deliveries, pings and rotations share, without a server.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rotatedPrevious, signingSecrets, stillSigns } from '../src/domain/signing.js';

const NOW = 1_700_000_000_000;

describe('signingSecrets', () => {
  it('signs with the current secret alone when there are no previous ones', () => {
    assert.deepEqual(signingSecrets('whsec_new', [], NOW), ['whsec_new']);
  });

  it('adds previous secrets still in their grace period, after the current one, in order', () => {
    const previous = [
      { key: 'whsec_b', expiresAt: NOW + 1000 },
      { key: 'whsec_a', expiresAt: NOW + 1 },
    ];
    assert.deepEqual(signingSecrets('whsec_new', previous, NOW), ['whsec_new', 'whsec_b', 'whsec_a']);
  });

  it('leaves out a previous secret once its grace period is over, the moment it ends included', () => {
    const previous = [
      { key: 'whsec_expired', expiresAt: NOW - 1 },
      { key: 'whsec_ends_now', expiresAt: NOW },
      { key: 'whsec_live', expiresAt: NOW + 60_000 },
    ];
    assert.deepEqual(signingSecrets('whsec_new', previous, NOW), ['whsec_new', 'whsec_live']);
  });

  it('keeps signing with a previous secret that has no expiry', () => {
    assert.equal(stillSigns({ key: 'whsec_old', expiresAt: null }, NOW), true);
    assert.deepEqual(signingSecrets('whsec_new', [{ key: 'whsec_old', expiresAt: null }], NOW), ['whsec_new', 'whsec_old']);
  });
});

describe('rotatedPrevious', () => {
  it('puts the outgoing secret first, signing for the grace period', () => {
    const previous = rotatedPrevious('whsec_out', [{ key: 'whsec_older', expiresAt: NOW + 5000 }], 86_400_000, NOW);
    assert.deepEqual(previous, [
      { key: 'whsec_out', expiresAt: NOW + 86_400_000 },
      { key: 'whsec_older', expiresAt: NOW + 5000 },
    ]);
  });

  it('drops the outgoing secret at once with a grace of 0, and earlier ones that stopped signing', () => {
    const previous = rotatedPrevious('whsec_out', [{ key: 'whsec_expired', expiresAt: NOW - 1 }], 0, NOW);
    assert.deepEqual(previous, []);
  });

  it('keeps a previous secret with no expiry, as signing does', () => {
    const previous = rotatedPrevious('whsec_out', [{ key: 'whsec_kept', expiresAt: null }], 1000, NOW);
    assert.deepEqual(previous.map((s) => s.key), ['whsec_out', 'whsec_kept']);
    assert.deepEqual(signingSecrets('whsec_new', previous, NOW), ['whsec_new', 'whsec_out', 'whsec_kept']);
  });
});
