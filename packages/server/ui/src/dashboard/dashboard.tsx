import { useMemo, useState } from 'preact/hooks';
import { ALL_CAPABILITIES, Api, ApiError, enc, type AppCtx, type Page, type Whoami } from '../api';
import { AppViews } from '../app/views';
import type { Application } from '../app/types';
import { Chart } from '../chart';
import { CopyButton, copyText, ErrorNote, Loading, Section, Unavailable, fmtTime, go, session, useAction, useHash, useLoad } from '../util';
import { EventTypes } from './event-types';

const KEY = 'hookwell.admin.token';

interface Overview {
  backlog: { pending: number; sending: number; oldestDueAt: string | null };
  throughput: { start: string; messages: number; success: number; fail: number }[];
  /** Absent from servers older than the series. */
  backlogSeries?: { at: string; pending: number; sending: number }[];
  failingEndpoints: { appId: string; appName: string; endpointId: string; url: string; failed: number; lastFailureAt: string | null }[];
  totals: { applications: number; endpoints: number; messages24h: number };
}

type AppRow = Application & { endpoints?: number; messages24h?: number; failing?: number };

export function Dashboard() {
  const [token, setToken] = useState<string | null>(() => session.get(KEY));
  const [expired, setExpired] = useState(false);
  const hash = useHash();
  const api = useMemo(() => (token === null ? null : new Api(token, () => setExpired(true))), [token]);
  const signOut = () => {
    session.remove(KEY);
    setToken(null);
  };
  if (api === null || expired)
    return (
      <SignIn
        expired={expired}
        onToken={(t) => {
          session.set(KEY, t);
          setExpired(false);
          setToken(t);
        }}
      />
    );
  const parts = hash.replace(/^#\/?/, '').split('/');
  const section = parts[0] === '' ? 'overview' : parts[0]!;
  return (
    <div class="shell" data-testid="dashboard">
      <header class="top">
        <h1>Hookwell</h1>
        <nav aria-label="Dashboard" class="tabs">
          <ul>
            {[
              ['overview', 'Overview'],
              ['apps', 'Applications'],
              ['event-types', 'Event types'],
            ].map(([k, label]) => (
              <li key={k}>
                <a href={`#/${k}`} aria-current={section === k ? 'page' : undefined} data-testid={`nav-${k}`}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" class="secondary" onClick={signOut} data-testid="sign-out">
          Sign out
        </button>
      </header>
      <main>
        {section === 'overview' && <OverviewPage api={api} />}
        {section === 'apps' && parts[1] === undefined && <Apps api={api} />}
        {section === 'apps' && parts[1] !== undefined && <AppPage key={parts[1]} api={api} appId={decodeURIComponent(parts[1])} rest={parts.slice(2).join('/')} />}
        {section === 'event-types' && <EventTypes api={api} />}
      </main>
    </div>
  );
}

function SignIn({ expired, onToken }: { expired: boolean; onToken: (t: string) => void }) {
  const [value, setValue] = useState('');
  const act = useAction();
  return (
    <main class="shell narrow" data-testid="sign-in">
      <h1>Hookwell dashboard</h1>
      {expired && <p role="alert">The token was refused. Sign in again.</p>}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void act.run(async () => {
            const t = value.trim();
            const who = await new Api(t).get<Whoami>('/api/v1/auth/whoami').catch((err: unknown) => {
              // A server without scoped access has no whoami: any API route tells whether the token works.
              if (err instanceof ApiError && err.status === 404) return new Api(t).get('/api/v1/app', { limit: 1 }).then(() => null);
              throw err;
            });
            if (who !== null && who.permissionSource !== 'admin') throw new ApiError(403, 'forbidden', 'This is a portal token: open its portal link instead.');
            onToken(t);
          });
        }}
      >
        <label for="admin-token">Admin token</label>
        <input id="admin-token" type="password" autocomplete="current-password" required value={value} onInput={(e) => setValue(e.currentTarget.value)} data-testid="admin-token" />{' '}
        <button type="submit" disabled={act.busy} data-testid="sign-in-submit">
          Sign in
        </button>
        <ErrorNote error={act.error} testid="sign-in-error" />
      </form>
    </main>
  );
}

function OverviewPage({ api }: { api: Api }) {
  const o = useLoad(() => api.get<Overview>('/api/v1/dashboard/overview'), []);
  const chart = useMemo(() => {
    if (!o.data) return null;
    return {
      times: o.data.throughput.map((b) => Math.floor(new Date(b.start).getTime() / 1000)),
      series: [
        { label: 'Messages', values: o.data.throughput.map((b) => b.messages), colorVar: '--primary' },
        { label: 'Successes', values: o.data.throughput.map((b) => b.success), colorVar: '--ok' },
        { label: 'Failures', values: o.data.throughput.map((b) => b.fail), colorVar: '--bad' },
      ],
    };
  }, [o.data]);
  const backlogChart = useMemo(() => {
    const points = o.data?.backlogSeries;
    if (!points) return null;
    return {
      // Fractional seconds: the answer's own point may fall in the same second as the last sample.
      times: points.map((p) => new Date(p.at).getTime() / 1000),
      series: [
        { label: 'Pending', values: points.map((p) => p.pending), colorVar: '--primary' },
        { label: 'Sending', values: points.map((p) => p.sending), colorVar: '--warn' },
      ],
    };
  }, [o.data]);
  if (o.error) return <Section title="Overview"><Unavailable error={o.error} what="The overview" /></Section>;
  if (!o.data || !chart) return <Loading />;
  const d = o.data;
  return (
    <div data-testid="overview">
      <Section title="Overview">
        <dl class="facts">
          <dt>Applications</dt>
          <dd data-testid="total-applications">{d.totals.applications}</dd>
          <dt>Endpoints</dt>
          <dd>{d.totals.endpoints}</dd>
          <dt>Messages (24 h)</dt>
          <dd>{d.totals.messages24h}</dd>
          <dt>Backlog</dt>
          <dd data-testid="backlog">
            {d.backlog.pending} pending, {d.backlog.sending} sending
          </dd>
          <dt>Oldest due delivery</dt>
          <dd data-testid="oldest-due">{d.backlog.oldestDueAt ? fmtTime(d.backlog.oldestDueAt) : 'none'}</dd>
        </dl>
        <div class="charts">
          <Chart title="Throughput per hour (24 h)" times={chart.times} series={chart.series} yLabel="count" testid="chart-throughput" />
          {backlogChart && (
            <Chart
              title="Backlog, sampled each minute since this server started (24 h at most)"
              times={backlogChart.times}
              series={backlogChart.series}
              yLabel="deliveries"
              testid="chart-backlog"
            />
          )}
        </div>
      </Section>
      <Section title="Failing endpoints" testid="failing-endpoints">
        {d.failingEndpoints.length === 0 ? (
          <p>No endpoint is failing.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Application</th>
                <th scope="col">Endpoint</th>
                <th scope="col">Failed</th>
                <th scope="col">Last failure</th>
              </tr>
            </thead>
            <tbody>
              {d.failingEndpoints.map((f) => (
                <tr key={f.endpointId} data-testid="failing-endpoint-row">
                  <td>
                    <a href={`#/apps/${enc(f.appId)}`}>{f.appName}</a>
                  </td>
                  <td>
                    <a class="mono" href={`#/apps/${enc(f.appId)}/endpoints/${enc(f.endpointId)}`}>
                      {f.url}
                    </a>
                  </td>
                  <td>{f.failed}</td>
                  <td>{fmtTime(f.lastFailureAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </div>
  );
}

function Apps({ api }: { api: Api }) {
  const [search, setSearch] = useState('');
  const [applied, setApplied] = useState('');
  const [iterator, setIterator] = useState<string | null>(null);
  const page = useLoad(
    () =>
      api.get<Page<AppRow>>('/api/v1/dashboard/app', { search: applied, limit: 50, iterator }).catch((err: unknown) => {
        // Without the dashboard routes: the plain list, without counts or search.
        if (err instanceof ApiError && err.status === 404) return api.get<Page<AppRow>>('/api/v1/app', { limit: 50, iterator });
        throw err;
      }),
    [applied, iterator],
  );
  const [name, setName] = useState('');
  const [uid, setUid] = useState('');
  const create = useAction();
  return (
    <div>
      <Section title="Applications" testid="applications">
        <form
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            setIterator(null);
            setApplied(search.trim());
          }}
        >
          <label for="app-search">Search by name or uid</label> <input id="app-search" type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} data-testid="app-search" />{' '}
          <button type="submit" class="secondary">
            Search
          </button>
        </form>
        <ErrorNote error={page.error} />
        {page.loading && !page.data && <Loading />}
        {page.data &&
          (page.data.data.length === 0 ? (
            <p data-testid="no-applications">No applications{applied ? ' match' : ' yet'}.</p>
          ) : (
            <table data-testid="application-table">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Uid</th>
                  <th scope="col">Endpoints</th>
                  <th scope="col">Messages (24 h)</th>
                  <th scope="col">Failing</th>
                  <th scope="col">Portal</th>
                </tr>
              </thead>
              <tbody>
                {page.data.data.map((a) => (
                  <tr key={a.id} data-testid="application-row" data-app-id={a.id}>
                    <td>
                      <a href={`#/apps/${enc(a.id)}`}>{a.name}</a>
                    </td>
                    <td class="mono">{a.uid ?? '—'}</td>
                    <td>{a.endpoints ?? '—'}</td>
                    <td>{a.messages24h ?? '—'}</td>
                    <td>{a.failing ?? '—'}</td>
                    <td>
                      <PortalLink api={api} app={a} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ))}
        {page.data && (
          <nav aria-label="Pages of applications" class="pager">
            <button type="button" class="secondary" disabled={iterator === null || !page.data.prevIterator} onClick={() => setIterator(page.data!.prevIterator)}>
              Previous
            </button>{' '}
            <button type="button" class="secondary" disabled={page.data.done || !page.data.iterator} onClick={() => setIterator(page.data!.iterator)}>
              Next
            </button>
          </nav>
        )}
      </Section>
      <Section title="Create an application" testid="create-application">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void create.run(async () => {
              const a = await api.post<Application>('/api/v1/app', { name: name.trim(), ...(uid.trim() ? { uid: uid.trim() } : {}) });
              go(`#/apps/${enc(a.id)}`);
            });
          }}
        >
          <div class="field">
            <label for="app-name">Name</label>
            <input id="app-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} data-testid="new-app-name" />
          </div>
          <div class="field">
            <label for="app-uid">Uid (optional, your own id for it)</label>
            <input id="app-uid" value={uid} onInput={(e) => setUid(e.currentTarget.value)} data-testid="new-app-uid" />
          </div>
          <button type="submit" disabled={create.busy} data-testid="create-app">
            Create application
          </button>
          <ErrorNote error={create.error} testid="create-app-error" />
        </form>
      </Section>
    </div>
  );
}

/** Makes a portal link for a customer: the token travels in the link's fragment. */
function PortalLink({ api, app }: { api: Api; app: Application }) {
  const [readOnly, setReadOnly] = useState(false);
  const [url, setUrl] = useState<string | null>(null);
  const [copied, setCopied] = useState<boolean | null>(null);
  const act = useAction();
  const id = `ro-${app.id}`;
  return (
    <div class="portal-link" data-testid="portal-link">
      <input type="checkbox" id={id} checked={readOnly} onChange={(e) => setReadOnly(e.currentTarget.checked)} /> <label for={id}>read-only</label>{' '}
      <button
        type="button"
        class="secondary"
        disabled={act.busy}
        aria-label={`Copy portal link for ${app.name}`}
        data-testid="make-portal-link"
        onClick={() =>
          act.run(async () => {
            const made = (await api.post<{ url: string }>(`/api/v1/auth/app-portal-access/${enc(app.id)}`, { readOnly })).url;
            setUrl(made);
            // A browser may refuse the clipboard (a page not served over https or localhost):
            // the link is shown either way, to copy by hand.
            setCopied(await copyText(made));
          })
        }
      >
        Copy portal link
      </button>
      {url && (
        <div>
          <label for={`url-${app.id}`}>Portal link for {app.name}</label> <input id={`url-${app.id}`} class="mono wide" readOnly value={url} data-testid="portal-link-url" /> <CopyButton text={url} label="Copy again" testid="copy-portal-link" />{' '}
          <span role="status" class="muted" data-testid="portal-link-copied">
            {copied === true ? 'Copied to the clipboard.' : copied === false ? 'Not copied: select the link and copy it.' : ''}
          </span>
        </div>
      )}
      <ErrorNote error={act.error} />
    </div>
  );
}

function AppPage({ api, appId, rest }: { api: Api; appId: string; rest: string }) {
  const app = useLoad(() => api.get<Application>(`/api/v1/app/${enc(appId)}`), [appId]);
  if (app.error) return <ErrorNote error={app.error} />;
  if (!app.data) return <Loading />;
  const ctx: AppCtx = { api, appId: app.data.id, caps: new Set(ALL_CAPABILITIES), base: `#/apps/${enc(appId)}/` };
  return (
    <div data-testid="app-page" data-app-id={app.data.id}>
      <p>
        <a href="#/apps">← Applications</a>
      </p>
      <header class="app-head">
        <h2 data-testid="app-name">{app.data.name}</h2> <span class="mono muted">{app.data.id}</span>
        <PortalLink api={api} app={app.data} />
      </header>
      <AppViews ctx={ctx} rest={rest} />
    </div>
  );
}
