import { useEffect, useState } from 'preact/hooks';
import { appPath, can, enc, type AppCtx, type Page } from '../api';
import { ErrorNote, Loading, Section, fmtJson, useAction, useLoad } from '../util';
import { AttemptTable, useCatalogue } from './endpoints';
import { exampleOf, subscribed, type Attempt, type Endpoint, type Message } from './types';

/** Sends a catalogue example to an endpoint, then watches for its attempt. */
export function Testing({ ctx }: { ctx: AppCtx }) {
  const endpoints = useLoad(() => ctx.api.get<Page<Endpoint>>(appPath(ctx, '/endpoint'), { limit: 250 }), [ctx.appId]);
  const catalogue = useCatalogue(ctx);
  const [endpointId, setEndpointId] = useState('');
  const [allTypes, setAllTypes] = useState(false);
  const [eventType, setEventType] = useState('');
  const [sent, setSent] = useState<Message | null>(null);
  const [attempts, setAttempts] = useState<Attempt[] | null>(null);
  const [watching, setWatching] = useState(false);
  const act = useAction();

  const ep = endpoints.data?.data.find((e) => e.id === endpointId) ?? endpoints.data?.data[0];
  const subs = ep ? subscribed(ep) : [];
  const withExample = (catalogue.data ?? []).filter((t) => exampleOf(t.schemas) !== undefined && !t.archived);
  const choices = allTypes || subs.length === 0 ? withExample : withExample.filter((t) => subs.includes(t.name));
  const type = choices.find((t) => t.name === eventType) ?? choices[0];

  useEffect(() => {
    if (!sent || !ep) return;
    let live = true;
    let tries = 0;
    setWatching(true);
    const poll = async () => {
      tries++;
      try {
        const page = await ctx.api.get<Page<Attempt>>(appPath(ctx, `/attempt/msg/${enc(sent.id)}`), { limit: 50 });
        if (!live) return;
        const mine = page.data.filter((a) => a.endpointId === ep.id);
        setAttempts(mine);
        if (mine.length > 0 || tries >= 20) return setWatching(false);
      } catch {
        if (tries >= 20 || !live) return setWatching(false);
      }
      if (live) setTimeout(poll, 750);
    };
    void poll();
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [sent]);

  if (!can(ctx, 'CreateAttempts')) return <p>This link cannot send test events.</p>;
  if (endpoints.error) return <ErrorNote error={endpoints.error} />;
  if (!endpoints.data || !catalogue.data) return <Loading />;
  if (endpoints.data.data.length === 0) return <p data-testid="no-endpoints">Add an endpoint first.</p>;
  return (
    <Section title="Send an example event" testid="testing">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void act.run(async () => {
            if (!ep || !type) throw new Error('Pick an endpoint and an event type that has an example.');
            setAttempts(null);
            const m = await ctx.api.post<Message>(appPath(ctx, `/endpoint/${enc(ep.id)}/send-example`), { eventType: type.name });
            setSent(m);
          });
        }}
      >
        <div class="field">
          <label for="t-endpoint">Endpoint</label>
          <select id="t-endpoint" value={ep?.id ?? ''} onChange={(e) => setEndpointId(e.currentTarget.value)} data-testid="test-endpoint">
            {endpoints.data.data.map((x) => (
              <option key={x.id} value={x.id}>
                {x.url}
                {x.description ? ` (${x.description})` : ''}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <input type="checkbox" id="t-all" checked={allTypes} onChange={(e) => setAllTypes(e.currentTarget.checked)} /> <label for="t-all">Show every event type, not only the endpoint's subscriptions</label>
        </div>
        <div class="field">
          <label for="t-type">Event type</label>
          <select id="t-type" value={type?.name ?? ''} onChange={(e) => setEventType(e.currentTarget.value)} data-testid="test-event-type">
            {choices.map((t) => (
              <option key={t.name} value={t.name}>
                {t.name}
              </option>
            ))}
          </select>
        </div>
        {choices.length === 0 && <p class="muted">No event type with an example fits this endpoint.</p>}
        {type && (
          <details>
            <summary>The example that will be sent</summary>
            <pre class="code">{fmtJson(exampleOf(type.schemas))}</pre>
          </details>
        )}
        <button type="submit" disabled={act.busy || !type} data-testid="send-example">
          Send example
        </button>
      </form>
      <ErrorNote error={act.error} testid="send-example-error" />
      {sent && (
        <div data-testid="test-result">
          <p role="status">
            Sent message{' '}
            <a class="mono" href={`${ctx.base}messages/${enc(sent.id)}`} data-testid="test-message-link">
              {sent.id}
            </a>
            . {watching ? 'Waiting for the attempt…' : ''}
          </p>
          {attempts && <AttemptTable attempts={attempts} />}
        </div>
      )}
    </Section>
  );
}
