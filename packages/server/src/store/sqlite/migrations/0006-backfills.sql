
  -- Historical backfills: a user's records of one resource, uploaded newest first and kept
  -- in chunks of chunk_size (chunk i is seq [i * chunk_size, (i + 1) * chunk_size)).
  -- "receiving" while the upload runs; "complete" once its notifications are queued.
  CREATE TABLE backfills (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    provider TEXT NOT NULL,
    chunk_size INTEGER NOT NULL,
    notify TEXT NOT NULL,
    status TEXT NOT NULL,
    records INTEGER NOT NULL DEFAULT 0,
    chunks INTEGER NOT NULL DEFAULT 0,
    msg_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX backfills_app ON backfills (app_id, id);
  CREATE TABLE backfill_chunks (
    backfill_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    start_date INTEGER NOT NULL,
    end_date INTEGER NOT NULL,
    records INTEGER NOT NULL,
    msg_id TEXT,
    PRIMARY KEY (backfill_id, idx)
  );
  -- A rowid table, not WITHOUT ROWID: records are often kilobytes, too large to sit in a
  -- b-tree's interior as a clustered key's row would.
  CREATE TABLE backfill_records (
    id INTEGER PRIMARY KEY,
    backfill_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    record TEXT NOT NULL
  );
  CREATE UNIQUE INDEX backfill_records_seq ON backfill_records (backfill_id, seq);
  -- A notification's content: the records of one chunk of a backfill, or (chunk NULL) all.
  ALTER TABLE messages ADD COLUMN backfill_id TEXT;
  ALTER TABLE messages ADD COLUMN backfill_chunk INTEGER;
  