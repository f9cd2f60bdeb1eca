// Scoped API tokens' SQL, written once for both dialects (each store binds `?` its own way).
import type { ApiToken } from './store.js';
import { selectPage, type PagePlan } from './paging.js';
import type { Row } from './rows.js';

export const INSERT_API_TOKEN = `INSERT INTO api_tokens (id, name, token_hash, app_ids, read_only, created_at, expires_at, revoked_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?)`;

export const SELECT_API_TOKEN_BY_HASH = 'SELECT * FROM api_tokens WHERE token_hash = ?';

export const listApiTokens = (plan: PagePlan): { sql: string; params: unknown[] } => selectPage('api_tokens', plan);

/** Revokes a live token; a revoked one keeps its first revocation time. */
export const REVOKE_API_TOKEN = 'UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL';
export const SELECT_API_TOKEN = 'SELECT * FROM api_tokens WHERE id = ?';

export function apiTokenParams(t: ApiToken): unknown[] {
  return [t.id, t.name, t.tokenHash, t.appIds === null ? null : JSON.stringify(t.appIds), t.readOnly ? 1 : 0, t.createdAt, t.expiresAt, t.revokedAt];
}

export function apiTokenFrom(r: Row): ApiToken {
  return {
    id: r.id as string,
    name: r.name as string,
    tokenHash: r.token_hash as string,
    appIds: r.app_ids === null ? null : (JSON.parse(r.app_ids as string) as string[]),
    readOnly: Number(r.read_only) === 1,
    createdAt: Number(r.created_at),
    expiresAt: r.expires_at === null ? null : Number(r.expires_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
  };
}
