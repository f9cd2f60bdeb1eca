import type { SecretVersion } from './types.js';

// Which secrets sign a request to an endpoint: its current secret, then every previous one
// still in its rotation grace period, so a receiver that has not yet taken the new secret
// keeps verifying. Deliveries, pings and rotations all ask this one rule.

/**
 * Whether a previous secret still signs at `now`. One with no expiry (never written by the
 * rotate call, which always sets one) keeps signing: an extra signature costs a receiver
 * nothing, while dropping a secret it still verifies with fails every delivery.
 */
export function stillSigns(s: SecretVersion, now: number): boolean {
  return s.expiresAt === null || s.expiresAt > now;
}

/** The secrets that sign at `now`: the current one first, then those in their grace period. */
export function signingSecrets(secret: string, previous: readonly SecretVersion[], now: number): string[] {
  return [secret, ...previous.filter((s) => stillSigns(s, now)).map((s) => s.key)];
}

/**
 * The previous secrets after a rotation at `now`: the outgoing secret, signing for `graceMs`
 * more (none with a grace of 0), then the earlier ones that still sign.
 */
export function rotatedPrevious(outgoing: string, previous: readonly SecretVersion[], graceMs: number, now: number): SecretVersion[] {
  return [{ key: outgoing, expiresAt: now + graceMs }, ...previous].filter((s) => stillSigns(s, now));
}

/** The User-Agent every delivery is sent with. */
export const USER_AGENT = 'Hookwell/0.1';
