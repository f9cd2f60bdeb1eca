// The generated health types: up to date with the catalogue, usable in handlers (this file is
// type-checked by `npm run typecheck`, so a wrong type fails there), and the typed handlers
// receive real signed deliveries.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHandler, generateSecret, sign } from '@hookwell/receiver';
import { healthHandlers, type DailyDataWorkoutsCreated, type HealthEvents } from '../src/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const GEN = join(ROOT, 'packages/health/scripts/gen-types.ts');
const HEALTH_TS = join(ROOT, 'packages/health/src/events.ts');
const example = (name: string): unknown =>
  (JSON.parse(readFileSync(join(ROOT, 'packages/health/catalog', `${name}.json`), 'utf8')) as { schemas: { '1': { examples: unknown[] } } }).schemas['1'].examples;

const secret = generateSecret();
function signed(body: string, id: string, extra: Record<string, string> = {}) {
  const ts = Math.floor(Date.now() / 1000);
  return { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': sign(secret, id, ts, body), ...extra };
}

describe('generated health types', () => {
  test('src/events.ts is what the generator writes from the catalogue (check mode exits 0)', () => {
    execFileSync(process.execPath, ['--import', 'tsx', GEN, '--check'], { cwd: ROOT, stdio: 'pipe' });
  });

  test('check mode exits 1 and names the file when it is stale', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookwell-health-'));
    const stale = join(dir, 'events.ts');
    try {
      writeFileSync(stale, readFileSync(HEALTH_TS, 'utf8').replace('calories: number;', 'calories: string;'));
      assert.throws(
        () => execFileSync(process.execPath, ['--import', 'tsx', GEN, '--check', '--out', stale], { cwd: ROOT, stdio: 'pipe' }),
        (error: { status: number; stderr: Buffer }) => {
          assert.equal(error.status, 1);
          assert.match(error.stderr.toString(), /stale: .*events\.ts/);
          return true;
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a signed daily.data.workouts.created reaches its typed handler with data.calories', async () => {
    const seen: { calories: number; id: string; type: 'daily.data.workouts.created' }[] = [];
    const connected: string[] = [];
    const handler = createHandler({
      secret,
      on: healthHandlers({
        'daily.data.workouts.created': ({ payload, type }) => {
          const calories: number = payload.data.calories;
          seen.push({ calories, id: payload.data.id, type });
        },
        'provider.connection.created': ({ payload }) => {
          connected.push(payload.data.source.source_slug);
        },
        'devices.provider-connected': ({ payload }) => {
          connected.push(...payload.users.flatMap((u) => u.providers));
        },
      }),
    });
    const examples = example('daily.data.workouts.created') as DailyDataWorkoutsCreated[];
    for (const [i, payload] of examples.entries()) {
      const body = JSON.stringify(payload);
      const res = await handler.handle(body, signed(body, `msg_workout_${i}`));
      assert.equal(res.status, 200);
      await res.after?.();
    }
    // Delivered by Hookwell, the type also arrives as a header; the payload's own type agrees.
    const connection = JSON.stringify((example('provider.connection.created') as unknown[])[0]);
    const res = await handler.handle(connection, signed(connection, 'msg_conn', { 'x-hookwell-event-type': 'provider.connection.created' }));
    await res.after?.();
    // Metriport names the type in meta.type, which is read without any header.
    const metriport = JSON.stringify((example('devices.provider-connected') as unknown[])[0]);
    await (await handler.handle(metriport, signed(metriport, 'msg_metriport'))).after?.();

    assert.deepEqual(
      seen,
      examples.map((e) => ({ calories: e.data.calories, id: e.data.id, type: 'daily.data.workouts.created' })),
    );
    assert.equal(seen[0]!.calories, 512);
    assert.deepEqual(connected, ['oura', 'oura']);
  });

  test('the map covers every catalogue event type, with payload types that fail on misuse', () => {
    // Compile-time checks: each @ts-expect-error must meet an error, or typecheck fails.
    const typeOnly = (): void => {
      healthHandlers({
        'daily.data.workouts.created': ({ payload }) => {
          // @ts-expect-error calories is a number
          const wrong: string = payload.data.calories;
          return wrong;
        },
        'goal_completed': ({ payload }) => {
          const when: string = payload.data.completed_at;
          // @ts-expect-error goal_name is a string
          const wrong: number = payload.goal_name;
          return [when, wrong];
        },
        'historical.data.sleep.created': ({ payload }) => {
          const final: boolean = payload.data.is_final;
          const link: string | undefined = payload.data.content_url;
          return [final, link];
        },
        'devices.health-data': ({ payload }) => payload.users.map((u) => u.userId),
        'medical.document-download': ({ payload }) => payload.patients[0]?.documents?.map((d) => d.fileName),
        // @ts-expect-error not an event type of the catalogue
        'daily.data.naps.created': () => undefined,
      });
    };
    void typeOnly;

    const generated = readFileSync(HEALTH_TS, 'utf8');
    const catalogue = readdirSync(join(ROOT, 'packages/health/catalog'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length));
    assert.equal(catalogue.length, 87);
    for (const name of catalogue) assert.ok(generated.includes(`  '${name}': `), `HealthEvents has ${name}`);
    const sample: keyof HealthEvents = 'daily.data.workouts.created';
    assert.ok(catalogue.includes(sample));
  });
});
