// App portal tokens' SQL, written once for both dialects (each store binds `?` its own way).
import type { PortalToken } from './store.js';
import type { Row } from './rows.js';

export const INSERT_PORTAL_TOKEN = `INSERT INTO portal_tokens (token_hash, app_id, capabilities, feature_flags, session_id, created_at, expires_at)
  VALUES (?, ?, ?, ?, ?, ?, ?)`;

export const SELECT_PORTAL_TOKEN = 'SELECT * FROM portal_tokens WHERE token_hash = ?';

/** Brings forward the expiry of an application's live tokens; never postpones one. */
export function expirePortalTokensSql(sessionIds: string[] | undefined): string {
  const sessions = sessionIds === undefined || sessionIds.length === 0 ? '' : ` AND session_id IN (${sessionIds.map(() => '?').join(', ')})`;
  return `UPDATE portal_tokens SET expires_at = ? WHERE app_id = ? AND expires_at > ?${sessions}`;
}

export function expirePortalTokensParams(appId: string, at: number, sessionIds: string[] | undefined): unknown[] {
  return [at, appId, at, ...(sessionIds ?? [])];
}

export const EXPIRE_PORTAL_TOKEN = 'UPDATE portal_tokens SET expires_at = ? WHERE token_hash = ? AND expires_at > ?';

export const PURGE_PORTAL_TOKENS = 'DELETE FROM portal_tokens WHERE expires_at < ?';

export function portalTokenParams(t: PortalToken): unknown[] {
  return [t.tokenHash, t.appId, JSON.stringify(t.capabilities), JSON.stringify(t.featureFlags), t.sessionId, t.createdAt, t.expiresAt];
}

export function portalTokenFrom(r: Row): PortalToken {
  return {
    tokenHash: r.token_hash as string,
    appId: r.app_id as string,
    capabilities: JSON.parse(r.capabilities as string) as string[],
    featureFlags: JSON.parse(r.feature_flags as string) as string[],
    sessionId: (r.session_id as string | null) ?? null,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
  };
}
