
  -- Historical backfills: a user's records of one resource, uploaded newest first and kept
  -- in chunks of chunk_size (chunk i is seq [i * chunk_size, (i + 1) * chunk_size)).
  -- "receiving" while the upload runs; "complete" once its notifications are queued.
  CREATE TABLE backfills (
    id text COLLATE "C" PRIMARY KEY,
    app_id text COLLATE "C" NOT NULL,
    user_id text NOT NULL,
    resource text NOT NULL,
    provider text NOT NULL,
    chunk_size integer NOT NULL,
    notify text NOT NULL,
    status text NOT NULL,
    records bigint NOT NULL DEFAULT 0,
    chunks integer NOT NULL DEFAULT 0,
    msg_id text COLLATE "C",
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
  );
  CREATE INDEX backfills_app ON backfills (app_id, id);
  CREATE TABLE backfill_chunks (
    backfill_id text COLLATE "C" NOT NULL,
    idx integer NOT NULL,
    start_date bigint NOT NULL,
    end_date bigint NOT NULL,
    records integer NOT NULL,
    msg_id text COLLATE "C",
    PRIMARY KEY (backfill_id, idx)
  );
  CREATE TABLE backfill_records (
    backfill_id text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    record text NOT NULL,
    PRIMARY KEY (backfill_id, seq)
  );
  -- A notification's content: the records of one chunk of a backfill, or (chunk NULL) all.
  ALTER TABLE messages ADD COLUMN backfill_id text COLLATE "C";
  ALTER TABLE messages ADD COLUMN backfill_chunk integer;
  