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
/**
 * Svix's secret field takes five prefixes (`^(whsec_|whsk_|whsk1_|whpk_|whpk1_)?…`). Hookwell
 * signs with two: `whsec_` (or bare base64) HMAC keys and `whsk_` ed25519 secret keys. A
 * public key (`whpk_`, `whpk1_`) only verifies signatures, so an endpoint given one could never
 * be signed for; Svix's own server refuses it as a secret too. `whsk1_` is a key format of
 * Svix's hosted service whose encoding it does not publish, so nothing can sign with it here
 * either. Each is refused with why, rather than stored and failing every delivery.
 * Returns the problem, or null for a secret that signs.
 */
export function unusableSecret(secret: string): string | null {
  if (secret.startsWith('whpk_') || secret.startsWith('whpk1_')) {
    const prefix = secret.slice(0, secret.indexOf('_') + 1);
    return `a ${prefix} key is a public key: it verifies signatures but cannot make them; give the whsk_ secret key it belongs to (receivers verify with the ${prefix} key)`;
  }
  if (secret.startsWith('whsk1_')) {
    return 'whsk1_ keys are not supported: their encoding is not published, so Hookwell cannot sign with one; give a whsk_ ed25519 secret key or a whsec_ HMAC secret';
  }
  return null;
}
