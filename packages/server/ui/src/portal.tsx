import { useEffect, useMemo, useState } from 'preact/hooks';
import { Api, ApiError, enc, type AppCtx, type Whoami } from './api';
import { AppViews } from './app/views';
import type { Application } from './app/types';
import { applyTheme, readTheme } from './theme';
import { ErrorNote, Loading, fmtTime, session, toError, useHash } from './util';

const KEY = 'hookwell.portal.token';

/**
 * The token arrives in the fragment (#key=…), which no server or proxy log sees. It is moved
 * to sessionStorage and removed from the address bar and history at once.
 */
function takeToken(): string | null {
  const m = /^#key=([^&]+)/.exec(location.hash);
  if (m) {
    session.set(KEY, decodeURIComponent(m[1]!));
    history.replaceState(null, '', `${location.pathname}${location.search}#/`);
  }
  return session.get(KEY);
}

export function Portal() {
  const [token, setToken] = useState<string | null>(() => takeToken());
  const [who, setWho] = useState<{ whoami: Whoami; app: Application } | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const hash = useHash();
  const api = useMemo(() => (token === null ? null : new Api(token, () => setError(new ApiError(401, 'expired', 'This portal link has expired or was revoked. Ask for a new one.')))), [token]);

  useEffect(() => {
    applyTheme(readTheme(undefined));
    if (api === null) return;
    let live = true;
    (async () => {
      const whoami = await api.get<Whoami>('/api/v1/auth/whoami');
      if (whoami.appId === null) throw new ApiError(400, 'no_app', 'This token is not tied to one application: sign in to the dashboard instead.');
      const app = await api.get<Application>(`/api/v1/app/${enc(whoami.appId)}`);
      if (!live) return;
      applyTheme(readTheme(app.metadata));
      setWho({ whoami, app });
    })().catch((err: unknown) => live && setError(toError(err)));
    return () => {
      live = false;
    };
  }, [api]);

  // A new #key= link opened in the same tab replaces the old token.
  useEffect(() => {
    if (hash.startsWith('#key=')) {
      setWho(null);
      setError(null);
      setToken(takeToken());
    }
  }, [hash]);

  if (token === null || (error && error.status === 401)) return <TokenForm error={error} onToken={(t) => (session.set(KEY, t), setError(null), setWho(null), setToken(t))} />;
  if (error) return <ErrorNote error={error} testid="portal-error" />;
  if (!who || !api) return <Loading />;
  const theme = readTheme(who.app.metadata);
  const ctx: AppCtx = { api, appId: who.app.id, caps: new Set(who.whoami.capabilities), base: '#/' };
  const rest = hash.startsWith('#/') ? hash.slice(2) : '';
  return (
    <div class="shell" data-testid="portal" data-readonly={String(who.whoami.readOnly)}>
      <header class="top">
        {theme.logo && <img src={theme.logo} alt="" class="logo" referrerpolicy="no-referrer" />}
        <h1 data-testid="app-name">{who.app.name}</h1>
        <span class="muted">Webhooks</span>
        {who.whoami.expiresAt && (
          <span class="muted" data-testid="link-expiry">
            Link valid until {fmtTime(who.whoami.expiresAt)}
          </span>
        )}
        {who.whoami.readOnly && (
          <span class="badge" data-testid="read-only">
            read-only
          </span>
        )}
      </header>
      <main>
        <AppViews ctx={ctx} rest={rest} />
      </main>
    </div>
  );
}

function TokenForm({ error, onToken }: { error: ApiError | null; onToken: (t: string) => void }) {
  const [value, setValue] = useState('');
  return (
    <main class="shell narrow">
      <h1>Webhooks portal</h1>
      {error ? <ErrorNote error={error} testid="portal-error" /> : <p>Open the portal with the link you were given, or paste its access key.</p>}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim() !== '') onToken(value.trim());
        }}
      >
        <label for="portal-key">Access key</label>
        <input id="portal-key" type="password" autocomplete="off" value={value} onInput={(e) => setValue(e.currentTarget.value)} data-testid="portal-key" />{' '}
        <button type="submit">Open</button>
      </form>
    </main>
  );
}
