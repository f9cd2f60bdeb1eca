import { useEffect, useRef, useState } from 'preact/hooks';
import { appPath, can, enc, type AppCtx, type Page, type Query } from '../api';
import { ErrorNote, Loading, Section, Status, StatusBadge, fmtJson, fmtTime, go, localToIso, useAction, useLoad } from '../util';
import { AttemptTable, useCatalogue } from './endpoints';
import type { AppStatus, Attempt, Message, MessageEndpoint } from './types';
import { Status as DeliveryStatus } from '../../../src/domain/types';

interface Filters {
  eventType: string;
  status: string;
  after: string;
  before: string;
  dataId: string;
  channel: string;
}

const EMPTY: Filters = { eventType: '', status: '', after: '', before: '', dataId: '', channel: '' };

export function RetryAllFailed({ ctx }: { ctx: AppCtx }) {
  const act = useAction();
  const [counts, setCounts] = useState<{ before: number; queued: number; after: number } | null>(null);
  if (!can(ctx, 'CreateAttempts')) return null;
  return (
    <div class="inline-action" data-testid="retry-all-failed">
      <button
        type="button"
        disabled={act.busy}
        data-testid="retry-all-failed-button"
        onClick={() =>
          act.run(async () => {
            const before = (await ctx.api.get<AppStatus>(appPath(ctx, '/status'))).failed;
            const { queued } = await ctx.api.post<{ queued: number }>(appPath(ctx, '/retry-failed'), {});
            const after = (await ctx.api.get<AppStatus>(appPath(ctx, '/status'))).failed;
            setCounts({ before, queued, after });
          })
        }
      >
        Retry all failed
      </button>
      <ErrorNote error={act.error} />
      <p role="status" data-testid="retry-all-failed-counts">
        {counts && `Failed before: ${counts.before}. Queued again: ${counts.queued}. Failed now: ${counts.after}.`}
      </p>
    </div>
  );
}

export function MessageLog({ ctx }: { ctx: AppCtx }) {
  const catalogue = useCatalogue(ctx);
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [iterator, setIterator] = useState<string | null>(null);
  const [lookup, setLookup] = useState('');
  const look = useAction();
  const page = useLoad(() => {
    const q: Query = {
      limit: 25,
      iterator,
      event_types: filters.eventType === '' ? undefined : [filters.eventType],
      status: filters.status,
      after: localToIso(filters.after),
      before: localToIso(filters.before),
      data_id: filters.dataId.trim(),
      channel: filters.channel.trim(),
    };
    return ctx.api.get<Page<Message>>(appPath(ctx, '/msg'), q);
  }, [ctx.appId, filters, iterator]);
  const field = (k: keyof Filters) => ({ value: draft[k], onInput: (e: { currentTarget: { value: string } }) => setDraft({ ...draft, [k]: e.currentTarget.value }) });
  return (
    <Section title="Messages" testid="message-log">
      <RetryAllFailed ctx={ctx} />
      <form
        class="filters"
        aria-label="Find a message by id or event id"
        onSubmit={(e) => {
          e.preventDefault();
          void look.run(async () => {
            const m = await ctx.api.get<Message>(appPath(ctx, `/msg/${enc(lookup.trim())}`));
            go(`${ctx.base}messages/${enc(m.id)}`);
          });
        }}
      >
        <label for="msg-lookup">Message id or event id</label> <input id="msg-lookup" value={lookup} onInput={(e) => setLookup(e.currentTarget.value)} data-testid="message-lookup" />{' '}
        <button type="submit" class="secondary" data-testid="message-lookup-submit">
          Open
        </button>
        <ErrorNote error={look.error} testid="lookup-error" />
      </form>
      <form
        class="filters"
        aria-label="Filter messages"
        onSubmit={(e) => {
          e.preventDefault();
          setIterator(null);
          // A copy, so that applying the same filters again loads the first page again.
          setFilters({ ...draft });
        }}
      >
        <div class="field">
          <label for="f-type">Event type</label>
          <select id="f-type" {...field('eventType')} onChange={(e) => setDraft({ ...draft, eventType: e.currentTarget.value })} data-testid="filter-event-type">
            <option value="">any</option>
            {(catalogue.data ?? []).map((t) => (
              <option key={t.name} value={t.name}>
                {t.name}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="f-status">Delivery status</label>
          <select id="f-status" value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.currentTarget.value })} data-testid="filter-status">
            <option value="">any</option>
            <option value="0">success</option>
            <option value="1">pending</option>
            <option value="2">fail</option>
            <option value="3">sending</option>
          </select>
        </div>
        <div class="field">
          <label for="f-after">After</label>
          <input id="f-after" type="datetime-local" {...field('after')} data-testid="filter-after" />
        </div>
        <div class="field">
          <label for="f-before">Before</label>
          <input id="f-before" type="datetime-local" {...field('before')} data-testid="filter-before" />
        </div>
        <div class="field">
          <label for="f-data">Data id</label>
          <input id="f-data" {...field('dataId')} data-testid="filter-data-id" />
        </div>
        <div class="field">
          <label for="f-channel">Channel</label>
          <input id="f-channel" {...field('channel')} data-testid="filter-channel" />
        </div>
        <div class="field">
          <button type="submit" data-testid="apply-filters">
            Apply filters
          </button>{' '}
          <button type="button" class="secondary" onClick={() => (setDraft(EMPTY), setFilters(EMPTY), setIterator(null))}>
            Clear
          </button>
        </div>
      </form>
      {page.loading && !page.data && <Loading />}
      <ErrorNote error={page.error} />
      {page.data && (
        <>
          {page.data.data.length === 0 ? (
            <p data-testid="no-messages">No messages match.</p>
          ) : (
            <table data-testid="message-table">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Event type</th>
                  <th scope="col">Message id</th>
                  <th scope="col">Event id</th>
                  <th scope="col">Data id</th>
                </tr>
              </thead>
              <tbody>
                {page.data.data.map((m) => (
                  <tr key={m.id} data-testid="message-row" data-message-id={m.id}>
                    <td>{fmtTime(m.timestamp)}</td>
                    <td class="mono">{m.eventType}</td>
                    <td>
                      <a class="mono" href={`${ctx.base}messages/${enc(m.id)}`}>
                        {m.id}
                      </a>
                    </td>
                    <td class="mono">{m.eventId ?? '—'}</td>
                    <td class="mono">{m.dataId ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <nav aria-label="Pages of messages" class="pager">
            <button type="button" class="secondary" disabled={iterator === null || !page.data.prevIterator} onClick={() => setIterator(page.data!.prevIterator)} data-testid="page-previous">
              Previous
            </button>{' '}
            <button type="button" class="secondary" disabled={page.data.done || !page.data.iterator} onClick={() => setIterator(page.data!.iterator)} data-testid="page-next">
              Next
            </button>{' '}
            <button type="button" class="secondary" onClick={page.reload} data-testid="refresh-messages">
              Refresh
            </button>
          </nav>
        </>
      )}
    </Section>
  );
}

export function MessageDetail({ ctx, msgId }: { ctx: AppCtx; msgId: string }) {
  const msg = useLoad(() => ctx.api.get<Message>(appPath(ctx, `/msg/${enc(msgId)}`)), [msgId]);
  const deliveries = useLoad(() => ctx.api.get<Page<MessageEndpoint>>(appPath(ctx, `/msg/${enc(msgId)}/endpoint`), { limit: 250 }), [msgId]);
  const attempts = useLoad(() => ctx.api.get<Page<Attempt>>(appPath(ctx, `/attempt/msg/${enc(msgId)}`), { limit: 250 }), [msgId]);
  const act = useAction();
  const refresh = () => (deliveries.reload(), attempts.reload());
  // While a delivery is under way, look again for a short while (not forever: a retry may be hours off).
  const polls = useRef(0);
  const inFlight = deliveries.data?.data.some((d) => d.status === DeliveryStatus.Pending || d.status === DeliveryStatus.Sending) ?? false;
  useEffect(() => {
    if (!inFlight || polls.current >= 15) return;
    const t = setTimeout(() => {
      polls.current++;
      refresh();
    }, 2000);
    return () => clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [deliveries.data]);
  if (msg.error) return <ErrorNote error={msg.error} />;
  if (!msg.data) return <Loading />;
  const m = msg.data;
  return (
    <div data-testid="message-detail" data-message-id={m.id}>
      <p>
        <a href={`${ctx.base}messages`}>← Messages</a>
      </p>
      <Section title={`Message ${m.id}`} testid="message-summary">
        <dl class="facts">
          <dt>Event type</dt>
          <dd class="mono">{m.eventType}</dd>
          <dt>Event id</dt>
          <dd class="mono">{m.eventId ?? '—'}</dd>
          <dt>Data id</dt>
          <dd class="mono">{m.dataId ?? '—'}</dd>
          <dt>Channels</dt>
          <dd>{m.channels?.join(', ') || '—'}</dd>
          <dt>Time</dt>
          <dd>{fmtTime(m.timestamp)}</dd>
        </dl>
        <h3>Payload</h3>
        {m.payloadDeleted ? (
          <p data-testid="message-payload-deleted">
            The payload was deleted (expunged, erased, or past its retention period). What was sent, when and where is kept below.
          </p>
        ) : (
          <pre class="code" data-testid="message-payload">
            {fmtJson(m.payload)}
          </pre>
        )}
      </Section>
      <Section title="Deliveries" testid="message-deliveries">
        <button type="button" class="secondary" onClick={refresh} data-testid="refresh-deliveries">
          Refresh
        </button>
        <ErrorNote error={deliveries.error ?? act.error} />
        <Status message={act.message} testid="resend-status" />
        {deliveries.data &&
          (deliveries.data.data.length === 0 ? (
            <p>No endpoint receives this message.</p>
          ) : (
            <table data-testid="delivery-table">
              <thead>
                <tr>
                  <th scope="col">Endpoint</th>
                  <th scope="col">Status</th>
                  <th scope="col">Next attempt</th>
                  {can(ctx, 'CreateAttempts') && <th scope="col">Action</th>}
                </tr>
              </thead>
              <tbody>
                {deliveries.data.data.map((d) => (
                  <tr key={d.id} data-testid="delivery-row" data-endpoint-id={d.id} data-status={d.statusText ?? d.status}>
                    <td>
                      <a class="mono" href={`${ctx.base}endpoints/${enc(d.id)}`}>
                        {d.url}
                      </a>
                    </td>
                    <td>
                      <StatusBadge status={d.status} text={d.statusText} />
                    </td>
                    <td>{fmtTime(d.nextAttempt)}</td>
                    {can(ctx, 'CreateAttempts') && (
                      <td>
                        <button
                          type="button"
                          class="secondary"
                          data-testid="resend"
                          aria-label={`Resend to ${d.url}`}
                          onClick={() =>
                            act.run(async () => {
                              await ctx.api.post(appPath(ctx, `/msg/${enc(m.id)}/endpoint/${enc(d.id)}/resend`), {});
                              polls.current = 0;
                              refresh();
                              return `Resent to ${d.url}.`;
                            })
                          }
                        >
                          Resend
                        </button>
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          ))}
      </Section>
      <Section title="Attempts" testid="message-attempts">
        <ErrorNote error={attempts.error} />
        {attempts.data && <AttemptTable attempts={attempts.data.data} showEndpoint />}
      </Section>
    </div>
  );
}
