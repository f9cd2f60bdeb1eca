// Regenerates docs/screenshots/: the dashboard and the app portal of a nutrition platform,
// with a day of traffic. Run: npm run screenshots (needs `npm run build` and Chromium at
// /usr/bin/chromium, or HOOKWELL_CHROMIUM).
//
// Everything goes through the real server and a real receiver: applications, the health
// catalogue, endpoints (healthy, failing for part of the day, down now), a few hundred
// messages and their attempts, a backfill. Only the clock is staged: the day's traffic is
// sent in a minute, hour by hour, and then its rows in this throw-away database are moved
// back to the hour they stand for, so the charts show a day.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { chromium, type Page } from 'playwright-core';
import { startReceiver, startServer, TOKEN, type Received, type TestServer } from '../packages/server/test/helpers.js';

const OUT = new URL('../docs/screenshots/', import.meta.url).pathname;
const CHROMIUM = process.env.HOOKWELL_CHROMIUM ?? '/usr/bin/chromium';
const HOUR = 3600_000;
const WIDTH = 1280;
const HEIGHT = 800;
/** Taller pages are cut here (or sooner, per page): the screenshots stay small. */
const MAX_HEIGHT = 2000;

/** A seeded generator: the same data every run. */
let seed = 42;
const rand = (): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

async function api(server: TestServer, method: string, path: string, body?: unknown): Promise<any> {
  const res = await server.api(method, path, body);
  if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${res.text}`);
  return res.body;
}

function pingOf(r: Received): unknown {
  try {
    return (JSON.parse(r.body.toString()) as { ping?: unknown }).ping;
  } catch {
    return undefined;
  }
}

/** The first example of an event type's newest schema. */
function exampleOf(schemas: Record<string, { examples?: unknown[] }> | null): unknown {
  if (schemas === null) return undefined;
  const newest = Object.keys(schemas).sort((a, b) => Number(b) - Number(a))[0];
  return newest === undefined ? undefined : schemas[newest]?.examples?.[0];
}

/** Messages per hour of the day, shaped like a nutrition app's: meals at 8, 13 and 19. */
function perHour(hourOfDay: number): number {
  const meal = (h: number) => Math.exp(-((hourOfDay - h) ** 2) / 3);
  return Math.round(3 + 22 * (meal(8) + meal(13) * 1.3 + meal(19) * 1.1));
}

async function main(): Promise<void> {
  const server = await startServer({ HOOKWELL_RETRY_SCHEDULE: '0.1' });
  const receiver = await startReceiver();
  /** The staging endpoint's outage: on in the afternoon and again now. */
  let outage = false;
  receiver.respond = (r) => {
    const ping = pingOf(r);
    if (ping !== undefined) return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pong: ping }) };
    if (r.path.startsWith('/staging') && outage) {
      return { status: 503, headers: { 'content-type': 'application/json' }, body: '{"error":"upstream timeout","retryable":true}' };
    }
    if (r.path.startsWith('/legacy')) return { status: 410, body: 'Gone: this integration was retired on 2026-11-30.' };
    // Latency with a tail, higher at the lunch peak.
    return { status: 200, body: '{"received":true}', headers: { 'content-type': 'application/json' }, delayMs: Math.round(15 + rand() ** 3 * 220) };
  };
  const db = new Database(server.dbPath);
  db.pragma('busy_timeout = 5000');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    await api(server, 'POST', '/api/v1/event-type/import', { catalog: 'health' });
    const types = (await api(server, 'GET', '/api/v1/event-type?with_content=true&limit=250')).data as { name: string; schemas: Record<string, { examples?: unknown[] }> | null }[];
    const examples = new Map(types.map((t) => [t.name, exampleOf(t.schemas)] as const).filter(([, e]) => e !== undefined));
    const mealTypes = ['meal_log_created', 'meal_log_updated', 'daily.data.meal.created', 'daily.data.meal.updated'].filter((t) => examples.has(t));
    const bodyTypes = ['daily.data.water.created', 'daily.data.weight.created', 'daily.data.body.created', 'daily.data.glucose.created'].filter((t) => examples.has(t));
    const otherTypes = ['goal_completed', 'devices.provider-connected', 'profile_updated'].filter((t) => examples.has(t));

    const acme = await api(server, 'POST', '/api/v1/app', { name: 'Acme Nutrition', uid: 'acme-nutrition' });
    const others = [
      ['Greenleaf Meals', 'greenleaf'],
      ['Brightbite Health', 'brightbite'],
      ['Northwind Fitness', 'northwind'],
      ['Oatly Coaching', 'oatly-coaching'],
    ];
    for (const [name, uid] of others) await api(server, 'POST', '/api/v1/app', { name, uid });

    const ep = (app: string, path: string, description: string, filterTypes?: string[]) =>
      api(server, 'POST', `/api/v1/app/${app}/endpoint`, { url: `${receiver.url}${path}`, description, ...(filterTypes ? { filterTypes } : {}) });
    const meals = await ep('acme-nutrition', '/acme/meals', 'Meal diary sync', mealTypes);
    await ep('acme-nutrition', '/acme/body', 'Hydration and body metrics', bodyTypes);
    await ep('acme-nutrition', '/staging/acme', 'Staging: every event');
    await ep('greenleaf', '/greenleaf/hooks', 'Production', mealTypes);
    await ep('brightbite', '/brightbite/webhooks', 'Coach app');
    await ep('northwind', '/legacy/northwind', 'Old integration');
    await ep('oatly-coaching', '/oatly/events', 'Events');

    // A day of traffic, hour by hour. The afternoon outage of staging shows in its charts.
    const now = Date.now();
    const dayStart = Math.floor(now / HOUR) * HOUR - 23 * HOUR;
    const staged: { id: string; at: number }[] = [];
    for (let h = 0; h < 24; h++) {
      const hourStart = dayStart + h * HOUR;
      const hourOfDay = new Date(hourStart).getUTCHours();
      outage = (hourOfDay >= 14 && hourOfDay <= 16) || h === 23;
      const n = perHour(hourOfDay);
      const offsets = Array.from({ length: n }, () => Math.floor(rand() * (h === 23 ? now - hourStart : HOUR))).sort((a, b) => a - b);
      for (const offset of offsets) {
        const r = rand();
        const type = r < 0.6 ? pick(mealTypes) : r < 0.9 ? pick(bodyTypes) : pick(otherTypes);
        const payload = structuredClone(examples.get(type)) as Record<string, unknown>;
        const msg = await api(server, 'POST', '/api/v1/app/acme-nutrition/msg', { eventType: type, payload, eventId: `evt_${h}_${staged.length}` });
        staged.push({ id: msg.id, at: hourStart + offset });
      }
      // The other applications: a little traffic, at the hour's last moment.
      for (const [, app] of others) {
        if (rand() < 0.5) continue;
        const type = pick(mealTypes);
        const msg = await api(server, 'POST', `/api/v1/app/${app}/msg`, { eventType: type, payload: structuredClone(examples.get(type)) });
        staged.push({ id: msg.id, at: hourStart + (offsets[offsets.length - 1] ?? 0) });
      }
      await settle(db);
    }
    // The day's rows go back to their hours. Each message's attempts move with it, so they
    // keep their distance from it (its retries), and each attempt stays after its message.
    const move = db.transaction(() => {
      for (const { id, at } of staged) {
        const row = db.prepare('SELECT created_at FROM messages WHERE id = ?').get(id) as { created_at: number };
        const shift = at - row.created_at;
        db.prepare('UPDATE messages SET created_at = created_at + ? WHERE id = ?').run(shift, id);
        db.prepare('UPDATE deliveries SET created_at = created_at + ?, last_attempt_at = last_attempt_at + ? WHERE msg_id = ?').run(shift, shift, id);
        db.prepare('UPDATE attempts SET created_at = created_at + ? WHERE msg_id = ?').run(shift, id);
      }
    });
    move();

    // A failed message resent by hand: its page shows both attempts.
    const failedMsg = (db.prepare("SELECT d.msg_id FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id WHERE d.status = 2 AND e.url LIKE '%/staging/%' ORDER BY d.msg_id DESC LIMIT 1").get() as { msg_id: string }).msg_id;
    const staging = (db.prepare("SELECT id FROM endpoints WHERE url LIKE '%/staging/%'").get() as { id: string }).id;
    outage = false;
    await api(server, 'POST', `/api/v1/app/acme-nutrition/msg/${failedMsg}/endpoint/${staging}/resend`, {});
    await settle(db);

    // A historical backfill: a month of meals from a newly connected provider.
    const records = Array.from({ length: 60 }, (_, i) => {
      const day = new Date(now - (60 - i) * 12 * HOUR).toISOString();
      return JSON.stringify({ id: `meal-${1000 + i}`, date: day, meal_type: pick(['breakfast', 'lunch', 'dinner', 'snack']), calories: 200 + Math.round(rand() * 700) });
    }).reverse();
    const bf = await fetch(`${server.url}/api/v1/app/acme-nutrition/backfill?userId=user-8841&resource=meal&provider=cronometer&chunkSize=20`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
      body: records.join('\n'),
    });
    if (bf.status >= 300) throw new Error(`backfill answered ${bf.status}: ${await bf.text()}`);
    await settle(db);
    outage = true;

    mkdirSync(OUT, { recursive: true });
    const context = await browser.newContext({ viewport: { width: WIDTH, height: HEIGHT }, colorScheme: 'light' });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const shot = (name: string, maxHeight = MAX_HEIGHT) => save(page, name, maxHeight);

    await page.goto(`${server.url}/dashboard`);
    await page.getByLabel('Admin token').fill(TOKEN);
    await page.getByTestId('sign-in-submit').click();
    await page.getByTestId('chart-throughput').waitFor();
    await shot('dashboard-overview');
    await page.getByTestId('nav-apps').click();
    await page.getByTestId('application-row').first().waitFor();
    await shot('dashboard-applications');
    await page.getByTestId('nav-event-types').click();
    await page.getByTestId('event-type-row').first().waitFor();
    await shot('dashboard-event-types', 1200);
    await page.locator('[data-testid="event-type-row"][data-name="meal_log_created"]').getByTestId('edit-event-type').click();
    const editor = page.getByTestId('event-type-editor');
    await editor.waitFor();
    // A slip in the schema, named as it is typed.
    const schema = page.getByTestId('event-type-schema');
    await schema.fill((await schema.inputValue()).replace('"type": "object"', '"type": "objekt"'));
    await page.getByTestId('schema-problems').getByText(/objekt|type/).first().waitFor();
    await schema.evaluate((el) => ((el.scrollTop = 0), (el as HTMLTextAreaElement).blur()));
    await save(page, 'dashboard-event-type-editor', 1200, await editor.evaluate((el) => Math.max(0, el.getBoundingClientRect().top + scrollY - 16)));

    const link = (await api(server, 'POST', `/api/v1/auth/app-portal-access/${acme.id}`, {})).url as string;
    await page.goto(link);
    await page.getByTestId('endpoint-table').waitFor();
    await shot('portal-endpoints');
    await page.goto(`${server.url}/portal#/endpoints/${meals.id}`);
    await page.getByTestId('chart-latency').waitFor();
    await shot('portal-endpoint-detail', 1400);
    await page.goto(`${server.url}/portal#/endpoints/${staging}`);
    await page.getByTestId('chart-latency').waitFor();
    await shot('portal-endpoint-failing', 1400);
    await page.goto(`${server.url}/portal#/messages`);
    await page.getByTestId('message-row').first().waitFor();
    await shot('portal-message-log');
    await page.goto(`${server.url}/portal#/messages/${failedMsg}`);
    await page.getByTestId('attempt-row').first().waitFor();
    for (const summary of await page.getByTestId('attempt-row').locator('summary').all()) await summary.click();
    await shot('portal-message-detail');
    await page.goto(`${server.url}/portal#/endpoints/new`);
    await page.getByTestId('endpoint-url').fill('https://api.acme-nutrition.example/webhooks/hookwell');
    await page.getByTestId('endpoint-description').fill('Production meal sync');
    await page.getByTestId('event-type-filter').fill('meal');
    for (const t of mealTypes.slice(0, 2)) await page.getByTestId(`event-type-${t}`).check();
    await shot('portal-add-endpoint');
    await page.goto(`${server.url}/portal#/backfills`);
    await page.getByTestId('backfill-row').first().waitFor();
    await page.getByTestId('backfill-row').first().getByRole('link').click();
    await page.getByTestId('chunk-row').first().waitFor();
    await shot('portal-backfill');

    await page.goto(`${server.url}/portal?theme=dark#/endpoints/${meals.id}`);
    await page.getByTestId('chart-latency').waitFor();
    await shot('portal-endpoint-detail-dark', 1400);
    await context.close();
  } finally {
    await browser.close();
    db.close();
    await receiver.close();
    await server.stop();
  }
}

/** Waits until no delivery is pending or in flight (retries of this schedule come at once). */
async function settle(db: Database.Database): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { n } = db.prepare('SELECT COUNT(*) AS n FROM deliveries WHERE status IN (1, 3)').get() as { n: number };
    if (n === 0) return;
    if (Date.now() > deadline) throw new Error(`${n} deliveries still pending after 30 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Saves the page from `top` down, at most `maxHeight` high. */
async function save(page: Page, name: string, maxHeight: number, from = 0): Promise<void> {
  const top = Math.floor(from);
  await page.waitForLoadState('networkidle');
  // uPlot draws on the next frame.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const height = Math.floor((await page.evaluate(() => document.documentElement.scrollHeight)) - top);
  const path = join(OUT, `${name}.png`);
  if (height <= HEIGHT && top === 0) await page.screenshot({ path });
  else await page.screenshot({ path, fullPage: true, clip: { x: 0, y: top, width: WIDTH, height: Math.min(height, maxHeight) } });
  console.log(`${path} (${Math.min(height, maxHeight)} px high)`);
}

await main();
