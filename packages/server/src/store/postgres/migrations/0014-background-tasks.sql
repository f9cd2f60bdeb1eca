-- Background tasks (Svix's QueueBackgroundTask): what a bulk operation (recover, replay,
-- bulk replay, purging an application's content) did and how far it got. data is a JSON
-- object. A running task's updated_at moves at least every few seconds while its process
-- works on it, so one whose process died is found by its age (see core/tasks.ts).
CREATE TABLE background_tasks (
  id text COLLATE "C" PRIMARY KEY,
  app_id text COLLATE "C",
  task text NOT NULL,
  status text NOT NULL,
  data text NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
CREATE INDEX background_tasks_running ON background_tasks (updated_at) WHERE status = 'running';
