import { appPath, enc, type AppCtx, type Page } from '../api';
import { ErrorNote, Loading, Section, StatusBadge, fmtTime, useLoad } from '../util';
import type { Backfill, MessageEndpoint } from './types';
import { Status } from '../../../src/domain/types';

export function BackfillList({ ctx }: { ctx: AppCtx }) {
  const list = useLoad(() => ctx.api.get<Page<Backfill>>(appPath(ctx, '/backfill'), { limit: 100 }), [ctx.appId]);
  return (
    <Section title="Backfills" testid="backfills">
      {list.loading && !list.data && <Loading />}
      <ErrorNote error={list.error} />
      {list.data &&
        (list.data.data.length === 0 ? (
          <p data-testid="no-backfills">No backfills yet.</p>
        ) : (
          <table data-testid="backfill-table">
            <thead>
              <tr>
                <th scope="col">Backfill</th>
                <th scope="col">User</th>
                <th scope="col">Resource</th>
                <th scope="col">Provider</th>
                <th scope="col">Records</th>
                <th scope="col">Chunks</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((b) => (
                <tr key={b.id} data-testid="backfill-row">
                  <td>
                    <a class="mono" href={`${ctx.base}backfills/${enc(b.id)}`}>
                      {b.id}
                    </a>
                  </td>
                  <td class="mono">{b.userId}</td>
                  <td>{b.resource}</td>
                  <td>{b.provider}</td>
                  <td>{b.records}</td>
                  <td>{b.chunks}</td>
                  <td>{b.status}</td>
                  <td>{fmtTime(b.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
    </Section>
  );
}

function Progress({ ctx, msgId }: { ctx: AppCtx; msgId: string | null }) {
  const d = useLoad(
    () => (msgId === null ? Promise.resolve(null) : ctx.api.get<Page<MessageEndpoint>>(appPath(ctx, `/msg/${enc(msgId)}/endpoint`), { limit: 250 })),
    [msgId],
  );
  if (msgId === null) return <span class="muted">no notification</span>;
  if (d.error) return <span class="error">{d.error.message}</span>;
  if (!d.data) return <span class="muted">…</span>;
  const rows = d.data.data;
  const ok = rows.filter((r) => r.status === Status.Success).length;
  return (
    <span data-testid="chunk-progress">
      {ok}/{rows.length} delivered{' '}
      {rows.map((r) => (
        <StatusBadge key={r.id} status={r.status} text={r.statusText} />
      ))}{' '}
      <a href={`${ctx.base}messages/${enc(msgId)}`} class="mono">
        {msgId}
      </a>
    </span>
  );
}

export function BackfillDetail({ ctx, backfillId }: { ctx: AppCtx; backfillId: string }) {
  const b = useLoad(() => ctx.api.get<Backfill>(appPath(ctx, `/backfill/${enc(backfillId)}`)), [backfillId]);
  if (b.error) return <ErrorNote error={b.error} />;
  if (!b.data) return <Loading />;
  const x = b.data;
  return (
    <div data-testid="backfill-detail">
      <p>
        <a href={`${ctx.base}backfills`}>← Backfills</a>
      </p>
      <Section title={`Backfill ${x.id}`}>
        <dl class="facts">
          <dt>User</dt>
          <dd class="mono">{x.userId}</dd>
          <dt>Resource</dt>
          <dd>{x.resource}</dd>
          <dt>Provider</dt>
          <dd>{x.provider}</dd>
          <dt>Event type</dt>
          <dd class="mono">{x.eventType}</dd>
          <dt>Records</dt>
          <dd>{x.records}</dd>
          <dt>Status</dt>
          <dd>{x.status}</dd>
          <dt>Notifies</dt>
          <dd>{x.notify === 'once' ? 'once, when complete' : 'once per chunk'}</dd>
        </dl>
        {x.notify === 'once' && (
          <p>
            Notification: <Progress ctx={ctx} msgId={x.msgId} />
          </p>
        )}
      </Section>
      <Section title="Chunks" testid="backfill-chunks">
        <table>
          <thead>
            <tr>
              <th scope="col">Chunk</th>
              <th scope="col">From</th>
              <th scope="col">To</th>
              <th scope="col">Records</th>
              <th scope="col">Delivery</th>
            </tr>
          </thead>
          <tbody>
            {(x.chunkList ?? []).map((c) => (
              <tr key={c.index} data-testid="chunk-row">
                <td>{c.index}</td>
                <td>{fmtTime(c.endDate)}</td>
                <td>{fmtTime(c.startDate)}</td>
                <td>{c.records}</td>
                <td>
                  <Progress ctx={ctx} msgId={c.msgId} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </div>
  );
}
