import { useEffect, useState } from 'preact/hooks';
import { ApiError, enc, type Api, type Page } from '../api';
import { newestVersion, exampleOf, type EventType } from '../app/types';
import { ErrorNote, Loading, Section, Status, fmtJson, useAction, useLoad } from '../util';
import { checkSchemaText } from './schema-check';

export function EventTypes({ api }: { api: Api }) {
  const list = useLoad(() => api.get<Page<EventType>>('/api/v1/event-type', { include_archived: true, with_content: true, limit: 250 }).then((p) => p.data), []);
  const [editing, setEditing] = useState<EventType | 'new' | null>(null);
  const act = useAction();
  return (
    <div>
      <Section title="Event types" testid="event-types">
        <div class="actions">
          <button type="button" onClick={() => setEditing('new')} data-testid="new-event-type">
            New event type
          </button>{' '}
          <button
            type="button"
            class="secondary"
            disabled={act.busy}
            data-testid="import-health-catalogue"
            onClick={() =>
              act.run(async () => {
                const r = await api.post<{ data: { modified: string[] } }>('/api/v1/event-type/import', { catalog: 'health' });
                list.reload();
                return `Imported the health catalogue: ${r.data.modified.length} event types created or updated.`;
              })
            }
          >
            Import the health catalogue
          </button>
        </div>
        <ErrorNote error={act.error ?? list.error} />
        <Status message={act.message} testid="event-type-status" />
        {list.loading && !list.data && <Loading />}
        {list.data && (
          <table data-testid="event-type-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Description</th>
                <th scope="col">Schema</th>
                <th scope="col">Validates</th>
                <th scope="col">State</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((t) => (
                <tr key={t.name} data-testid="event-type-row" data-name={t.name}>
                  <td class="mono">{t.name}</td>
                  <td>{t.description}</td>
                  <td>{newestVersion(t.schemas) ? `v${newestVersion(t.schemas)}` : '—'}</td>
                  <td>{t.validate ? 'yes' : 'no'}</td>
                  <td>{t.archived ? 'archived' : t.deprecated ? 'deprecated' : 'active'}</td>
                  <td>
                    <button type="button" class="secondary" aria-label={`Edit ${t.name}`} onClick={() => setEditing(t)} data-testid="edit-event-type">
                      Edit
                    </button>{' '}
                    <button
                      type="button"
                      class="secondary"
                      aria-label={`${t.archived ? 'Unarchive' : 'Archive'} ${t.name}`}
                      data-testid={t.archived ? 'unarchive-event-type' : 'archive-event-type'}
                      onClick={() =>
                        act.run(async () => {
                          await api.patch(`/api/v1/event-type/${enc(t.name)}`, { archived: !t.archived });
                          list.reload();
                          return `${t.name} is ${t.archived ? 'active again' : 'archived'}.`;
                        })
                      }
                    >
                      {t.archived ? 'Unarchive' : 'Archive'}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      {editing !== null && (
        <EventTypeEditor
          key={editing === 'new' ? 'new' : editing.name}
          api={api}
          existing={editing === 'new' ? null : editing}
          onDone={() => {
            setEditing(null);
            list.reload();
          }}
        />
      )}
    </div>
  );
}

/** Pause in typing after which the server is asked about the schema. */
const CHECK_AFTER_MS = 400;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The server's problems with a schema that parses: Ajv cannot compile in the page (the CSP
 * allows no eval), so the server compiles it as saving with validate: true would, once the
 * typing pauses. Each answer replaces the last, which stays up meanwhile (a list that blinks
 * at every key is read out again at every pause); an answer for text since changed is dropped.
 */
function useServerCheck(api: Api, schema: unknown, version: string, text: string): string[] {
  const [problems, setProblems] = useState<string[]>([]);
  useEffect(() => {
    if (!isPlainObject(schema)) {
      setProblems([]);
      return;
    }
    let live = true;
    const timer = setTimeout(() => {
      api.post('/api/v1/event-type/check-schema', { schemas: { [version]: schema } }).then(
        () => live && setProblems([]),
        (err: unknown) => {
          if (!live) return;
          // A server without the check (404) or out of reach: the local check and Save remain.
          if (!(err instanceof ApiError) || err.status !== 422) return setProblems([]);
          const list = err.problems.map((p) => {
            const where = p.loc.slice(3).map(String).join('/');
            return where === '' ? p.msg : `#/${where}: ${p.msg}`;
          });
          setProblems(list.length > 0 ? list : [err.message]);
        },
      );
    }, CHECK_AFTER_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [api, text, version]);
  return problems;
}

function EventTypeEditor({ api, existing, onDone }: { api: Api; existing: EventType | null; onDone: () => void }) {
  const version = newestVersion(existing?.schemas) ?? '1';
  const [name, setName] = useState(existing?.name ?? '');
  const [description, setDescription] = useState(existing?.description ?? '');
  const [validate, setValidate] = useState(existing?.validate ?? false);
  const [text, setText] = useState(() => {
    const s = existing?.schemas?.[version];
    return s === undefined ? '' : fmtJson(s);
  });
  const save = useAction();
  const check = checkSchemaText(text);
  const serverProblems = useServerCheck(api, check.errors.length === 0 ? check.schema : undefined, version, text);
  const example = check.errors.length === 0 && check.schema ? exampleOf({ [version]: check.schema }) : undefined;
  return (
    <Section title={existing ? `Edit ${existing.name}` : 'New event type'} testid="event-type-editor">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save.run(async () => {
            if (check.errors.length > 0) throw new Error('Fix the schema first.');
            const schemas = check.schema === null ? null : { ...(existing?.schemas ?? {}), [version]: check.schema };
            if (existing) await api.patch(`/api/v1/event-type/${enc(existing.name)}`, { description, schemas, validate });
            else await api.post('/api/v1/event-type', { name: name.trim(), description, schemas, validate });
            onDone();
          });
        }}
      >
        {!existing && (
          <div class="field">
            <label for="et-name">Name</label>
            <input id="et-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="resource.event" data-testid="event-type-name" />
          </div>
        )}
        <div class="field">
          <label for="et-description">Description</label>
          <input id="et-description" required value={description} onInput={(e) => setDescription(e.currentTarget.value)} data-testid="event-type-description" />
        </div>
        <div class="field">
          <label for="et-schema">JSON Schema (version {version}; put examples in its "examples")</label>
          <textarea
            id="et-schema"
            rows={16}
            class="mono"
            spellcheck={false}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
            aria-invalid={check.errors.length > 0 || serverProblems.length > 0}
            aria-describedby="et-schema-problems"
            data-testid="event-type-schema"
          />
          <div id="et-schema-problems" aria-live="polite" data-testid="schema-problems">
            {check.errors.length > 0 ? (
              <ul class="error">
                {check.errors.map((e) => (
                  <li key={e}>{e}</li>
                ))}
              </ul>
            ) : serverProblems.length > 0 ? (
              <ul class="error" data-source="server">
                {serverProblems.map((e) => (
                  <li key={e}>{e}</li>
                ))}
              </ul>
            ) : (
              <p class="muted">{text.trim() === '' ? 'No schema.' : `The schema is well-formed${example === undefined ? '; it has no example, so it cannot be sent as a test.' : '.'}`}</p>
            )}
          </div>
        </div>
        <div class="field">
          <input type="checkbox" id="et-validate" checked={validate} onChange={(e) => setValidate(e.currentTarget.checked)} data-testid="event-type-validate" />{' '}
          <label for="et-validate">Validate: refuse (422) messages whose payload does not match this schema</label>
        </div>
        <ErrorNote error={save.error} testid="event-type-save-error" />
        <button type="submit" disabled={save.busy || check.errors.length > 0} data-testid="save-event-type">
          Save
        </button>{' '}
        <button type="button" class="secondary" onClick={onDone}>
          Cancel
        </button>
      </form>
    </Section>
  );
}
