// The meta table's SQL (a key-value store of the installation's settings), for both dialects.
export const SELECT_META = 'SELECT value FROM meta WHERE key = ?';

export const UPSERT_META = 'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value';

export const INSERT_META_IF_ABSENT = 'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING';
