// Content fetches' SQL that both dialects share; recording one (insert and prune) stays per store.

/** Binds the message, the application and the limit: the newest first. */
export const SELECT_CONTENT_FETCHES = 'SELECT * FROM content_fetches WHERE msg_id = ? AND app_id = ? ORDER BY id DESC LIMIT ?';
