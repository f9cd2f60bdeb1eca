import type { AppCtx } from '../api';
import { BackfillDetail, BackfillList } from './backfills';
import { EndpointDetail, EndpointForm, EndpointList } from './endpoints';
import { MessageDetail, MessageLog } from './messages';
import { Testing } from './testing';

const TABS: [string, string][] = [
  ['endpoints', 'Endpoints'],
  ['messages', 'Messages'],
  ['testing', 'Testing'],
  ['backfills', 'Backfills'],
];

/**
 * One application's views, shared by the portal (base "#/") and the dashboard's drill-in
 * (base "#/apps/<id>/"). `rest` is the hash path after the base.
 */
export function AppViews({ ctx, rest }: { ctx: AppCtx; rest: string }) {
  const parts = rest.split('/').filter((p) => p !== '').map(decodeURIComponent);
  const tab = parts[0] ?? 'endpoints';
  return (
    <div>
      <nav aria-label="Application" class="tabs">
        <ul>
          {TABS.map(([key, label]) => (
            <li key={key}>
              <a href={`${ctx.base}${key}`} aria-current={tab === key ? 'page' : undefined} data-testid={`tab-${key}`}>
                {label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <Route ctx={ctx} parts={parts} />
    </div>
  );
}

function Route({ ctx, parts }: { ctx: AppCtx; parts: string[] }) {
  const [tab, id, sub] = parts;
  switch (tab ?? 'endpoints') {
    case 'endpoints':
      if (id === 'new') return <EndpointForm ctx={ctx} />;
      if (id !== undefined && sub === 'edit') return <EndpointForm key={id} ctx={ctx} endpointId={id} />;
      if (id !== undefined) return <EndpointDetail key={id} ctx={ctx} endpointId={id} />;
      return <EndpointList ctx={ctx} />;
    case 'messages':
      if (id !== undefined) return <MessageDetail key={id} ctx={ctx} msgId={id} />;
      return <MessageLog ctx={ctx} />;
    case 'testing':
      return <Testing ctx={ctx} />;
    case 'backfills':
      if (id !== undefined) return <BackfillDetail key={id} ctx={ctx} backfillId={id} />;
      return <BackfillList ctx={ctx} />;
    default:
      return <p>This page does not exist.</p>;
  }
}
