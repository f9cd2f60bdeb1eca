import { useMemo, useState } from 'preact/hooks';
import { appPath, can, enc, type AppCtx, type Page } from '../api';
import { Chart } from '../chart';
import {
  Confirm,
  CopyButton,
  ErrorNote,
  Loading,
  Section,
  Status,
  StatusBadge,
  Unavailable,
  fmtJson,
  fmtTime,
  go,
  isoToLocal,
  localToIso,
  newSecret,
  useAction,
  useLoad,
} from '../util';
import { exampleOf, groupTypes, subscribed, type AppStatus, type Attempt, type Endpoint, type EventType, type Series, type Stats } from './types';

type State = 'healthy' | 'failing' | 'disabled';

function stateOf(ep: Endpoint, status: AppStatus | undefined): State {
  if (ep.disabled) return 'disabled';
  const s = status?.endpoints.find((e) => e.id === ep.id);
  if (s === undefined) return 'healthy';
  if (s.failed > 0) return 'failing';
  if (s.lastStatus !== null && (s.lastStatus < 200 || s.lastStatus > 299)) return 'failing';
  return 'healthy';
}

function rate(st: Stats | null | undefined): string {
  if (st === null || st === undefined) return '—';
  const done = st.success + st.fail;
  return done === 0 ? 'no deliveries' : `${Math.round((st.success / done) * 1000) / 10}%`;
}

export function EndpointList({ ctx }: { ctx: AppCtx }) {
  const list = useLoad(async () => {
    const since = new Date(Date.now() - 24 * 3600 * 1000).toISOString();
    const [page, status] = await Promise.all([
      ctx.api.get<Page<Endpoint>>(appPath(ctx, '/endpoint'), { limit: 250 }),
      ctx.api.get<AppStatus>(appPath(ctx, '/status')).catch(() => undefined),
    ]);
    const stats = await Promise.all(
      page.data.map((ep) => ctx.api.get<Stats>(appPath(ctx, `/endpoint/${enc(ep.id)}/stats`), { since }).catch(() => null)),
    );
    return { endpoints: page.data, status, stats };
  }, [ctx.appId]);
  return (
    <Section title="Endpoints" testid="endpoints">
      {can(ctx, 'ManageEndpoint') && (
        <p>
          <a class="button" href={`${ctx.base}endpoints/new`} data-testid="add-endpoint">
            Add endpoint
          </a>
        </p>
      )}
      {list.loading && list.data === undefined && <Loading />}
      <ErrorNote error={list.error} />
      {list.data && list.data.endpoints.length === 0 && <p data-testid="no-endpoints">No endpoints yet.</p>}
      {list.data && list.data.endpoints.length > 0 && (
        <table data-testid="endpoint-table">
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Description</th>
              <th scope="col">State</th>
              <th scope="col">Success rate (24 h)</th>
            </tr>
          </thead>
          <tbody>
            {list.data.endpoints.map((ep, i) => {
              const st = stateOf(ep, list.data!.status);
              return (
                <tr key={ep.id} data-testid="endpoint-row" data-endpoint-id={ep.id}>
                  <td>
                    <a href={`${ctx.base}endpoints/${enc(ep.id)}`} class="mono">
                      {ep.url}
                    </a>
                  </td>
                  <td>{ep.description}</td>
                  <td>
                    <span class={`badge state-${st}`} data-testid="endpoint-state">
                      {st}
                    </span>
                  </td>
                  <td data-testid="endpoint-success-rate">{rate(list.data!.stats[i])}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </Section>
  );
}

/** The catalogue, grouped, as checkboxes, each type's description, schema and example one click away. */
function TypePicker({ types, picked, onChange }: { types: EventType[]; picked: Set<string>; onChange: (s: Set<string>) => void }) {
  const [filter, setFilter] = useState('');
  const toggle = (names: string[], on: boolean) => {
    const next = new Set(picked);
    for (const name of names) {
      if (on) next.add(name);
      else next.delete(name);
    }
    onChange(next);
  };
  if (types.length === 0) return <p class="muted">The catalogue has no event types: the endpoint will receive every type.</p>;
  const f = filter.trim().toLowerCase();
  const shown = types.filter((t) => !t.archived && (f === '' || t.name.toLowerCase().includes(f) || t.description.toLowerCase().includes(f)));
  return (
    <fieldset data-testid="event-type-picker">
      <legend>Event types ({picked.size === 0 ? 'none picked: every type' : `${picked.size} picked`})</legend>
      <label for="et-filter">Filter event types</label> <input id="et-filter" type="search" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} data-testid="event-type-filter" />
      {groupTypes(shown).map(([group, list]) => {
        const names = list.map((t) => t.name);
        const count = names.filter((n) => picked.has(n)).length;
        const gid = `etg-${group}`;
        return (
          <details key={group} class="group" open={f !== '' || count > 0} data-testid={`event-type-group-${group}`}>
            <summary>
              {group} ({count} of {list.length} picked)
            </summary>
            <div class="type-row">
              <input type="checkbox" id={gid} checked={count === list.length} onChange={(e) => toggle(names, e.currentTarget.checked)} /> <label for={gid}>All of {group}</label>
            </div>
            {list.map((t) => {
              const id = `et-${t.name}`;
              const example = exampleOf(t.schemas);
              return (
                <div key={t.name} class="type-row">
                  <input type="checkbox" id={id} checked={picked.has(t.name)} onChange={(e) => toggle([t.name], e.currentTarget.checked)} data-testid={`event-type-${t.name}`} />{' '}
                  <label for={id} class="mono">
                    {t.name}
                  </label>{' '}
                  <span class="muted">{t.description}</span>
                  {(t.schemas || example !== undefined) && (
                    <details>
                      <summary>Schema and example of {t.name}</summary>
                      {t.schemas && <pre class="code">{fmtJson(t.schemas)}</pre>}
                      {example !== undefined && (
                        <>
                          <h4>Example</h4>
                          <pre class="code">{fmtJson(example)}</pre>
                        </>
                      )}
                    </details>
                  )}
                </div>
              );
            })}
          </details>
        );
      })}
    </fieldset>
  );
}

export function useCatalogue(ctx: AppCtx) {
  return useLoad(() => ctx.api.get<Page<EventType>>('/api/v1/event-type', { with_content: true, limit: 250 }).then((p) => p.data), [ctx.appId]);
}

interface HeaderRow {
  name: string;
  value: string;
}

export function EndpointForm({ ctx, endpointId }: { ctx: AppCtx; endpointId?: string }) {
  const editing = endpointId !== undefined;
  const catalogue = useCatalogue(ctx);
  const existing = useLoad(
    () => (editing ? ctx.api.get<Endpoint>(appPath(ctx, `/endpoint/${enc(endpointId!)}`)) : Promise.resolve(undefined)),
    [endpointId],
  );
  if (editing && existing.data === undefined) return existing.error ? <ErrorNote error={existing.error} /> : <Loading />;
  return <EndpointFormBody ctx={ctx} existing={existing.data} types={catalogue.data ?? []} />;
}

function EndpointFormBody({ ctx, existing, types }: { ctx: AppCtx; existing: Endpoint | undefined; types: EventType[] }) {
  const [url, setUrl] = useState(existing?.url ?? '');
  const [description, setDescription] = useState(existing?.description ?? '');
  const [picked, setPicked] = useState(new Set(existing ? subscribed(existing) : []));
  const [channels, setChannels] = useState((existing?.channels ?? []).join(', '));
  const [rateLimit, setRateLimit] = useState(existing?.rateLimit ? String(existing.rateLimit) : '');
  const [payloadMode, setPayloadMode] = useState<'full' | 'thin'>(existing?.payloadMode ?? 'full');
  const [orderingKey, setOrderingKey] = useState(existing?.ordering?.key ?? '');
  const [headers, setHeaders] = useState<HeaderRow[]>([]);
  const [shown, setShown] = useState(false);
  const [secret, setSecret] = useState(() => newSecret());
  const save = useAction();

  const body = (): Record<string, unknown> => {
    const b: Record<string, unknown> = {
      url: url.trim(),
      description,
      filterTypes: picked.size === 0 ? null : [...picked],
      channels: channels.trim() === '' ? null : channels.split(',').map((c) => c.trim()).filter((c) => c !== ''),
      rateLimit: rateLimit.trim() === '' ? null : Number(rateLimit),
      payloadMode,
      ordering: orderingKey.trim() === '' ? null : { key: orderingKey.trim() },
    };
    if (!existing) {
      b.secret = secret;
      const h = headers.filter((r) => r.name.trim() !== '');
      if (h.length > 0) b.headers = Object.fromEntries(h.map((r) => [r.name.trim(), r.value]));
    }
    return b;
  };

  const submit = (verify: boolean) =>
    save.run(async () => {
      const ep = existing
        ? await ctx.api.patch<Endpoint>(appPath(ctx, `/endpoint/${enc(existing.id)}`), { ...body(), verify })
        : await ctx.api.post<Endpoint>(appPath(ctx, '/endpoint'), { ...body(), verify });
      go(`${ctx.base}endpoints/${enc(ep.id)}`);
    });

  return (
    <Section title={existing ? 'Edit endpoint' : 'Add endpoint'} testid="endpoint-form">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit(true);
        }}
      >
        <div class="field">
          <label for="ep-url">URL</label>
          <input id="ep-url" type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} placeholder="https://example.com/webhooks" data-testid="endpoint-url" />
        </div>
        <div class="field">
          <label for="ep-description">Description</label>
          <input id="ep-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} data-testid="endpoint-description" />
        </div>
        <TypePicker types={types} picked={picked} onChange={setPicked} />
        <div class="field">
          <label for="ep-channels">Channels (comma-separated; empty: all)</label>
          <input id="ep-channels" value={channels} onInput={(e) => setChannels(e.currentTarget.value)} data-testid="endpoint-channels" />
        </div>
        <div class="field">
          <label for="ep-rate">Rate limit (deliveries per second; empty: none)</label>
          <input id="ep-rate" type="number" min="1" value={rateLimit} onInput={(e) => setRateLimit(e.currentTarget.value)} data-testid="endpoint-rate-limit" />
        </div>
        <div class="field">
          <label for="ep-mode">Payload mode</label>
          <select id="ep-mode" value={payloadMode} onChange={(e) => setPayloadMode(e.currentTarget.value as 'full' | 'thin')} data-testid="endpoint-payload-mode">
            <option value="full">full: the payload in each delivery</option>
            <option value="thin">thin: identifiers and a link to fetch the content</option>
          </select>
        </div>
        <div class="field">
          <label for="ep-ordering">Ordering key (JSON path such as $.data.user_id; empty: unordered)</label>
          <input id="ep-ordering" value={orderingKey} onInput={(e) => setOrderingKey(e.currentTarget.value)} data-testid="endpoint-ordering-key" />
        </div>
        {!existing && (
          <fieldset data-testid="endpoint-headers">
            <legend>Custom headers</legend>
            {headers.map((h, i) => (
              <div class="row" key={i}>
                <label for={`h-name-${i}`}>Header name</label>
                <input id={`h-name-${i}`} value={h.name} onInput={(e) => setHeaders(headers.map((x, j) => (j === i ? { ...x, name: e.currentTarget.value } : x)))} />
                <label for={`h-value-${i}`}>Value</label>
                <input
                  id={`h-value-${i}`}
                  type={(shown ? 'text' : 'password') as 'password'}
                  autocomplete="off"
                  value={h.value}
                  onInput={(e) => setHeaders(headers.map((x, j) => (j === i ? { ...x, value: e.currentTarget.value } : x)))}
                />
                <button type="button" class="secondary" onClick={() => setHeaders(headers.filter((_, j) => j !== i))}>
                  Remove header {h.name}
                </button>
              </div>
            ))}
            <button type="button" class="secondary" onClick={() => setHeaders([...headers, { name: '', value: '' }])} data-testid="add-header">
              Add header
            </button>{' '}
            {headers.length > 0 && (
              <button type="button" class="secondary" aria-pressed={shown} onClick={() => setShown(!shown)}>
                {shown ? 'Hide values' : 'Show values'}
              </button>
            )}
          </fieldset>
        )}
        {!existing && (
          <fieldset data-testid="endpoint-secret">
            <legend>Signing secret</legend>
            <p class="muted">Made in this browser. Configure your receiver with it now; you can reveal it again later.</p>
            <label for="ep-secret">Secret</label>
            <input id="ep-secret" class="mono wide" readOnly value={secret} size={44} data-testid="new-secret" />{' '}
            <CopyButton text={secret} label="Copy secret" testid="copy-new-secret" />{' '}
            <button type="button" class="secondary" onClick={() => setSecret(newSecret())}>
              New secret
            </button>
          </fieldset>
        )}
        <ErrorNote error={save.error} testid="endpoint-save-error" />
        <div class="actions">
          <button type="submit" disabled={save.busy} data-testid="verify-and-save">
            Verify with ping and save
          </button>{' '}
          <button type="button" class="secondary" disabled={save.busy} onClick={() => void submit(false)} data-testid="save-without-verifying">
            Save without verifying
          </button>{' '}
          <a href={existing ? `${ctx.base}endpoints/${enc(existing.id)}` : `${ctx.base}endpoints`}>Cancel</a>
        </div>
      </form>
    </Section>
  );
}

function Secret({ ctx, ep }: { ctx: AppCtx; ep: Endpoint }) {
  const [secret, setSecret] = useState<string | null>(null);
  const act = useAction();
  const path = appPath(ctx, `/endpoint/${enc(ep.id)}/secret`);
  const canView = can(ctx, 'ViewEndpointSecret') || can(ctx, 'ManageEndpointSecret');
  if (!canView) return null;
  return (
    <Section title="Signing secret" testid="secret">
      {secret === null ? (
        <button type="button" class="secondary" onClick={() => act.run(async () => setSecret((await ctx.api.get<{ key: string }>(path)).key))} data-testid="reveal-secret">
          Reveal secret
        </button>
      ) : (
        <p>
          <label for="secret-value">Secret</label> <input id="secret-value" class="mono wide" readOnly value={secret} data-testid="secret-value" /> <CopyButton text={secret} label="Copy secret" testid="copy-secret" />{' '}
          <button type="button" class="secondary" onClick={() => setSecret(null)}>
            Hide
          </button>
        </p>
      )}
      {can(ctx, 'ManageEndpointSecret') && (
        <p>
          <Confirm
            label="Rotate secret"
            question="Rotate the signing secret? The old one keeps signing for 24 hours."
            testid="rotate-secret"
            onConfirm={() =>
              act.run(async () => {
                await ctx.api.post(path + '/rotate', {});
                setSecret(secret === null ? null : (await ctx.api.get<{ key: string }>(path)).key);
                return 'The secret was rotated.';
              })
            }
          />
        </p>
      )}
      <ErrorNote error={act.error} />
      <Status message={act.message} testid="secret-status" />
    </Section>
  );
}

function WebhookKey({ ctx, ep, onChange }: { ctx: AppCtx; ep: Endpoint; onChange: () => void }) {
  const [key, setKey] = useState<{ header: string; key: string } | null>(null);
  const [header, setHeader] = useState('x-webhook-key');
  const act = useAction();
  const path = appPath(ctx, `/endpoint/${enc(ep.id)}/key`);
  const manage = can(ctx, 'ManageEndpoint');
  if (!manage && !can(ctx, 'ViewEndpointSecret')) return null;
  return (
    <Section title="Webhook key" testid="webhook-key">
      {ep.webhookKeyHeader ? (
        <>
          <p>
            Sent in the header <code>{ep.webhookKeyHeader}</code>.
          </p>
          {key === null ? (
            <button type="button" class="secondary" onClick={() => act.run(async () => setKey(await ctx.api.get(path)))} data-testid="reveal-key">
              Reveal key
            </button>
          ) : (
            <p>
              <label for="key-value">Key</label> <input id="key-value" class="mono wide" readOnly value={key.key} data-testid="key-value" /> <CopyButton text={key.key} label="Copy key" />{' '}
              <button type="button" class="secondary" onClick={() => setKey(null)}>
                Hide
              </button>
            </p>
          )}
          {manage && (
            <p>
              <Confirm
                label="Rotate key"
                question="Replace the webhook key? The old one stops working at once."
                testid="rotate-key"
                onConfirm={() =>
                  act.run(async () => {
                    const k = await ctx.api.post<{ header: string; key: string }>(path, { header: ep.webhookKeyHeader });
                    setKey(k);
                    onChange();
                    return 'A new key was made.';
                  })
                }
              />{' '}
              <Confirm
                label="Remove key"
                question="Remove the webhook key?"
                testid="remove-key"
                onConfirm={() =>
                  act.run(async () => {
                    await ctx.api.del(path);
                    setKey(null);
                    onChange();
                    return 'The key was removed.';
                  })
                }
              />
            </p>
          )}
        </>
      ) : manage ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void act.run(async () => {
              setKey(await ctx.api.post(path, { header }));
              onChange();
              return 'A key was made.';
            });
          }}
        >
          <p class="muted">A random key sent in a header of every delivery, for receivers that check a shared key.</p>
          <label for="key-header">Header</label> <input id="key-header" value={header} onInput={(e) => setHeader(e.currentTarget.value)} />{' '}
          <button type="submit" data-testid="generate-key">
            Generate key
          </button>
        </form>
      ) : (
        <p class="muted">No webhook key.</p>
      )}
      <ErrorNote error={act.error} />
      <Status message={act.message} />
    </Section>
  );
}

function Headers({ ctx, ep }: { ctx: AppCtx; ep: Endpoint }) {
  const [headers, setHeaders] = useState<Record<string, string> | null>(null);
  const [draft, setDraft] = useState<string | null>(null);
  const act = useAction();
  const path = appPath(ctx, `/endpoint/${enc(ep.id)}/headers`);
  if (!can(ctx, 'ManageEndpoint') && !can(ctx, 'ViewEndpointSecret')) return null;
  return (
    <Section title="Custom headers" testid="headers">
      {headers === null ? (
        <button type="button" class="secondary" onClick={() => act.run(async () => setHeaders((await ctx.api.get<{ headers: Record<string, string> }>(path)).headers))} data-testid="reveal-headers">
          Reveal headers
        </button>
      ) : Object.keys(headers).length === 0 ? (
        <p>No custom headers.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Header</th>
              <th scope="col">Value</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(headers).map(([k, v]) => (
              <tr key={k}>
                <td class="mono">{k}</td>
                <td class="mono">{v}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {headers !== null && can(ctx, 'ManageEndpoint') && draft === null && (
        <button type="button" class="secondary" onClick={() => setDraft(Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\n'))}>
          Edit headers
        </button>
      )}
      {draft !== null && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void act.run(async () => {
              const h: Record<string, string> = {};
              for (const line of draft.split('\n')) {
                if (line.trim() === '') continue;
                const i = line.indexOf(':');
                if (i < 1) throw new Error(`"${line}" is not "name: value"`);
                h[line.slice(0, i).trim()] = line.slice(i + 1).trim();
              }
              await ctx.api.put(path, { headers: h });
              setHeaders(h);
              setDraft(null);
              return 'Headers saved.';
            });
          }}
        >
          <label for="headers-draft">Headers, one "name: value" a line</label>
          <textarea id="headers-draft" rows={4} value={draft} onInput={(e) => setDraft(e.currentTarget.value)} />
          <button type="submit">Save headers</button>{' '}
          <button type="button" class="secondary" onClick={() => setDraft(null)}>
            Cancel
          </button>
        </form>
      )}
      <ErrorNote error={act.error} />
      <Status message={act.message} />
    </Section>
  );
}

export function EndpointCharts({ ctx, endpointId }: { ctx: AppCtx; endpointId: string }) {
  const [range, setRange] = useState<'24h' | '7d'>('24h');
  const series = useLoad(() => {
    const now = Date.now();
    const since = new Date(now - (range === '24h' ? 24 : 7 * 24) * 3600 * 1000).toISOString();
    return ctx.api.get<Series>(appPath(ctx, `/endpoint/${enc(endpointId)}/stats/series`), { since, until: new Date(now).toISOString(), bucket: range === '24h' ? 'hour' : 'day' });
  }, [endpointId, range]);
  const data = useMemo(() => {
    if (!series.data) return null;
    const times = series.data.data.map((b) => Math.floor(new Date(b.start).getTime() / 1000));
    return {
      times,
      counts: [
        { label: 'Successes', values: series.data.data.map((b) => b.success), colorVar: '--ok', bars: true },
        { label: 'Failures', values: series.data.data.map((b) => b.fail), colorVar: '--bad', bars: true },
      ],
      latency: [
        { label: 'p50 ms', values: series.data.data.map((b) => b.latencyP50Ms), colorVar: '--primary' },
        { label: 'p95 ms', values: series.data.data.map((b) => b.latencyP95Ms), colorVar: '--warn' },
      ],
    };
  }, [series.data]);
  return (
    <Section title="Deliveries over time" testid="endpoint-charts">
      <div role="group" aria-label="Time range" class="segmented">
        <button type="button" aria-pressed={range === '24h'} onClick={() => setRange('24h')} data-testid="range-24h">
          Last 24 hours
        </button>
        <button type="button" aria-pressed={range === '7d'} onClick={() => setRange('7d')} data-testid="range-7d">
          Last 7 days
        </button>
      </div>
      {series.loading && !data && <Loading />}
      {series.error && <Unavailable error={series.error} what="Delivery statistics" />}
      {data && (
        <div class="charts">
          <Chart title={`Successes and failures per ${range === '24h' ? 'hour' : 'day'}`} times={data.times} series={data.counts} yLabel="attempts" testid="chart-outcomes" />
          <Chart title="Attempt latency" times={data.times} series={data.latency} yLabel="ms" testid="chart-latency" />
        </div>
      )}
    </Section>
  );
}

function Recover({ ctx, ep }: { ctx: AppCtx; ep: Endpoint }) {
  const [since, setSince] = useState(() => isoToLocal(new Date(Date.now() - 24 * 3600 * 1000)));
  const act = useAction();
  if (!can(ctx, 'CreateAttempts')) return null;
  return (
    <Section title="Recover failed deliveries" testid="recover">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void act.run(async () => {
            const iso = localToIso(since);
            if (iso === undefined) throw new Error('Pick a time to recover from.');
            await ctx.api.post(appPath(ctx, `/endpoint/${enc(ep.id)}/recover`), { since: iso });
            return `Failed deliveries since ${fmtTime(iso)} are being sent again.`;
          });
        }}
      >
        <label for="recover-since">Recover failures since</label> <input id="recover-since" type="datetime-local" value={since} onInput={(e) => setSince(e.currentTarget.value)} data-testid="recover-since" />{' '}
        <button type="submit" disabled={act.busy} data-testid="recover-submit">
          Recover
        </button>
      </form>
      <ErrorNote error={act.error} />
      <Status message={act.message} testid="recover-status" />
    </Section>
  );
}

export function AttemptTable({ attempts, showEndpoint }: { attempts: Attempt[]; showEndpoint?: boolean }) {
  if (attempts.length === 0) return <p data-testid="no-attempts">No attempts yet.</p>;
  return (
    <table data-testid="attempt-table">
      <thead>
        <tr>
          <th scope="col">Time</th>
          {showEndpoint && <th scope="col">Endpoint</th>}
          <th scope="col">Status</th>
          <th scope="col">Response code</th>
          <th scope="col">Duration</th>
          <th scope="col">Trigger</th>
          <th scope="col">Response body</th>
        </tr>
      </thead>
      <tbody>
        {attempts.map((a) => (
          <tr key={a.id} data-testid="attempt-row" data-attempt-id={a.id} data-status={a.statusText ?? a.status}>
            <td>{fmtTime(a.timestamp)}</td>
            {showEndpoint && <td class="mono">{a.url}</td>}
            <td>
              <StatusBadge status={a.status} text={a.statusText} />
            </td>
            <td data-testid="attempt-code">{a.responseStatusCode === 0 ? 'no response' : a.responseStatusCode}</td>
            <td>{a.responseDurationMs} ms</td>
            <td>{a.triggerType === 1 ? 'manual' : 'scheduled'}</td>
            <td>
              {a.response === '' ? (
                <span class="muted">empty</span>
              ) : (
                <details>
                  <summary>Body ({a.response.length} characters)</summary>
                  <pre class="code" data-testid="attempt-response">
                    {a.response}
                  </pre>
                </details>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function EndpointDetail({ ctx, endpointId }: { ctx: AppCtx; endpointId: string }) {
  const ep = useLoad(() => ctx.api.get<Endpoint>(appPath(ctx, `/endpoint/${enc(endpointId)}`)), [endpointId]);
  const attempts = useLoad(() => ctx.api.get<Page<Attempt>>(appPath(ctx, `/attempt/endpoint/${enc(endpointId)}`), { limit: 20 }), [endpointId]);
  const act = useAction();
  const manage = can(ctx, 'ManageEndpoint');
  if (ep.error) return <ErrorNote error={ep.error} />;
  if (!ep.data) return <Loading />;
  const e = ep.data;
  const types = subscribed(e);
  return (
    <div data-testid="endpoint-detail" data-endpoint-id={e.id}>
      <p>
        <a href={`${ctx.base}endpoints`}>← Endpoints</a>
      </p>
      <Section title="Endpoint" testid="endpoint-summary">
        <dl class="facts">
          <dt>URL</dt>
          <dd class="mono" data-testid="endpoint-url-value">
            {e.url}
          </dd>
          <dt>Id</dt>
          <dd class="mono">{e.id}</dd>
          <dt>Description</dt>
          <dd>{e.description || '—'}</dd>
          <dt>State</dt>
          <dd data-testid="endpoint-enabled">{e.disabled ? 'disabled' : 'enabled'}</dd>
          <dt>Event types</dt>
          <dd>{types.length === 0 ? 'all' : types.join(', ')}</dd>
          <dt>Channels</dt>
          <dd>{e.channels?.length ? e.channels.join(', ') : 'all'}</dd>
          <dt>Rate limit</dt>
          <dd>{e.rateLimit ? `${e.rateLimit}/s` : 'none'}</dd>
          <dt>Payload mode</dt>
          <dd>{e.payloadMode ?? 'full'}</dd>
          <dt>Ordering key</dt>
          <dd class="mono">{e.ordering?.key ?? 'unordered'}</dd>
          <dt>Last ping</dt>
          <dd data-testid="last-ping">{e.lastPing ? `${e.lastPing.ok ? 'ok' : 'failed'}: ${e.lastPing.detail} (${fmtTime(e.lastPing.at)})` : 'never'}</dd>
        </dl>
        {manage && (
          <div class="actions">
            <a class="button secondary" href={`${ctx.base}endpoints/${enc(e.id)}/edit`} data-testid="edit-endpoint">
              Edit
            </a>{' '}
            <button
              type="button"
              class="secondary"
              data-testid="ping-endpoint"
              disabled={act.busy}
              onClick={() =>
                act.run(async () => {
                  const r = await ctx.api.post<{ ok: boolean; detail: string }>(appPath(ctx, `/endpoint/${enc(e.id)}/ping`), {});
                  ep.reload();
                  return `Ping ${r.ok ? 'succeeded' : 'failed'}: ${r.detail}`;
                })
              }
            >
              Ping
            </button>{' '}
            <button
              type="button"
              class="secondary"
              data-testid={e.disabled ? 'enable-endpoint' : 'disable-endpoint'}
              onClick={() =>
                act.run(async () => {
                  await ctx.api.patch(appPath(ctx, `/endpoint/${enc(e.id)}`), { disabled: !e.disabled });
                  ep.reload();
                  return e.disabled ? 'The endpoint is enabled.' : 'The endpoint is disabled.';
                })
              }
            >
              {e.disabled ? 'Enable' : 'Disable'}
            </button>{' '}
            <Confirm
              label="Delete"
              question="Delete this endpoint?"
              testid="delete-endpoint"
              onConfirm={() =>
                act.run(async () => {
                  await ctx.api.del(appPath(ctx, `/endpoint/${enc(e.id)}`));
                  go(`${ctx.base}endpoints`);
                })
              }
            />
          </div>
        )}
        <ErrorNote error={act.error} />
        <Status message={act.message} testid="endpoint-status" />
      </Section>
      <Secret ctx={ctx} ep={e} />
      <WebhookKey ctx={ctx} ep={e} onChange={ep.reload} />
      <Headers ctx={ctx} ep={e} />
      <EndpointCharts ctx={ctx} endpointId={e.id} />
      <Recover ctx={ctx} ep={e} />
      <Section title="Recent attempts" testid="endpoint-attempts">
        <button type="button" class="secondary" onClick={attempts.reload}>
          Refresh
        </button>
        <ErrorNote error={attempts.error} />
        {attempts.data && <AttemptTable attempts={attempts.data.data} />}
      </Section>
    </div>
  );
}
