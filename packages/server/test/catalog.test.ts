import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileCatalogSchema, createCatalogAjv, identifierPaths, loadCatalog, loadCatalogDir, newestSchema, type CatalogEntry } from '../src/catalog.js';
import { staleVitalFiles, vitalFiles } from '../../health/scripts/build-catalog.js';

// The catalogue and the script that writes its Vital files are @hookwell/health's.
const CATALOG_DIR = fileURLToPath(new URL('../../health/catalog/', import.meta.url));
const BUILD = fileURLToPath(new URL('../../health/scripts/build-catalog.ts', import.meta.url));
const catalog = loadCatalog();
const byName = new Map(catalog.map((e) => [e.name, e]));

function get(name: string): CatalogEntry {
  const entry = byName.get(name);
  assert.ok(entry, `${name} is in the catalogue`);
  return entry;
}

// The samples of the seed documents, verbatim.
const MIRI_GOAL_COMPLETED = {
  event: 'goal_completed',
  occurred_at: '2024-11-11T10:35:00Z',
  user_id: 'USER12345',
  goal_artifact_id: 'GOAL56789',
  goal_name: 'Lose weight',
  data: {
    completed_at: '2024-11-10T14:30:00Z',
    weight_goal: {
      value: 15,
      unit: 'pounds',
    },
  },
};
const VITAL_HISTORICAL_WORKOUTS = {
  event_type: 'historical.data.workouts.created',
  data: {
    user_id: 'e9e072e8-...',
    start_date: '2020-06-21T08:23:01+00:00',
    end_date: '1996-11-02T14:39:28+00:00',
    is_final: true,
    provider: 'zwift',
  },
};
const VITAL_DAILY_WORKOUTS = {
  event_type: 'daily.data.workouts.created',
  data: {
    id: 'c90bd6fb-...',
    average_hr: 198,
    distance: 8544,
    time_start: '2012-11-24T22:57:01+00:00',
    time_end: '2017-04-22T04:57:31+00:00',
    calories: 4470,
    hr_zones: [8279],
    user_id: 'ab3247dc-...',
    moving_time: 4719,
    total_elevation_gain: 8967,
    elev_high: 3868,
    max_speed: 8371,
    average_watts: 9029,
    max_watts: 1551,
    provider_id: 'dolor ipsum reiciendis Lorem veniam elit. esse',
    source: {
      name: 'Zwift',
      slug: 'zwift',
      logo: 'https://logo.png',
    },
  },
};
const VITAL_CONNECTION_CREATED = {
  event_type: 'provider.connection.created',
  data: {
    user_id: '4eca10f9-...',
    source: {
      source_name: 'Strava',
      source_slug: 'strava',
      source_logo: 'https://storage.googleapis.com/vital-assets/strava.png',
    },
  },
};

const VITAL_RESOURCES = [
  'activity',
  'sleep',
  'workouts',
  'body',
  'profile',
  'heartrate',
  'hrv',
  'glucose',
  'blood_pressure',
  'blood_oxygen',
  'steps',
  'calories_active',
  'distance',
  'respiratory_rate',
  'body_temperature',
  'weight',
  'fat',
  'water',
  'meal',
  'menstrual_cycle',
  'vo2_max',
  'electrocardiogram',
  'stress_level',
  'mindfulness_minutes',
];
const VITAL = [
  ...VITAL_RESOURCES.flatMap((r) => [`historical.data.${r}.created`, `daily.data.${r}.created`, `daily.data.${r}.updated`]),
  'provider.connection.created',
  'provider.connection.error',
];
const MIRI = [
  'meal_log_created',
  'meal_log_updated',
  'goal_completed',
  'profile_updated',
  'coach_message_sent',
  'coach_message_received',
  'push_notification_requested',
];
const METRIPORT = [
  'devices.provider-connected',
  'devices.provider-disconnected',
  'devices.health-data',
  'medical.document-download',
  'medical.document-conversion',
  'medical.consolidated-data',
];

describe('the catalogue', () => {
  test('every file loads, sorted by name, one file per event type', () => {
    const files = readdirSync(CATALOG_DIR).filter((f) => f.endsWith('.json'));
    assert.equal(catalog.length, files.length);
    assert.deepEqual(
      catalog.map((e) => e.name),
      [...catalog.map((e) => e.name)].sort(),
    );
    assert.deepEqual(catalog.map((e) => `${e.name}.json`).sort(), files.sort());
  });

  test('holds exactly the Vital, Miri and Metriport families, each under its group', () => {
    assert.equal(VITAL_RESOURCES.length * 3, 72);
    const expected = [...VITAL, ...MIRI, ...METRIPORT];
    assert.deepEqual(catalog.map((e) => e.name), [...expected].sort());
    for (const [group, names] of [['vital', VITAL], ['miri', MIRI], ['metriport', METRIPORT]] as const) {
      for (const name of names) assert.equal(get(name).groupName, group, name);
    }
  });

  test('every schema compiles under draft 2020-12 and has a title, a description and examples', () => {
    for (const entry of catalog) {
      for (const [version, schema] of Object.entries(entry.schemas)) {
        assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema', `${entry.name} v${version}`);
        assert.doesNotThrow(() => compileCatalogSchema(schema), `${entry.name} v${version}`);
        assert.ok(schema.title && schema.description && schema.examples.length >= 1, `${entry.name} v${version}`);
      }
    }
  });

  test('every example validates against its schema', () => {
    for (const entry of catalog) {
      for (const schema of Object.values(entry.schemas)) {
        const validate = compileCatalogSchema(schema);
        schema.examples.forEach((example, i) => {
          assert.ok(validate(example), `${entry.name} example ${i}: ${JSON.stringify(validate.errors)}`);
        });
      }
    }
  });

  test('no schema is vacuous: an example without any one of its required top-level properties fails', () => {
    for (const entry of catalog) {
      for (const schema of Object.values(entry.schemas)) {
        const required = schema.required as string[];
        assert.ok(Array.isArray(required) && required.length > 0, `${entry.name} requires something`);
        const validate = compileCatalogSchema(schema);
        for (const example of schema.examples) {
          for (const field of required) {
            const { [field]: _removed, ...rest } = example as Record<string, unknown>;
            assert.equal(validate(rest), false, `${entry.name} without "${field}" must fail`);
          }
        }
      }
    }
  });

  test('the schemas check types and formats, not only presence', () => {
    const workouts = compileCatalogSchema(newestSchema(get('daily.data.workouts.created')));
    const with_ = (data: Record<string, unknown>) => ({ ...VITAL_DAILY_WORKOUTS, data: { ...VITAL_DAILY_WORKOUTS.data, ...data } });
    assert.equal(workouts(with_({ calories: '4470' })), false, 'calories must be a number');
    assert.equal(workouts(with_({ time_start: 'yesterday' })), false, 'time_start must be a date-time');
    assert.equal(workouts({ ...VITAL_DAILY_WORKOUTS, event_type: 'daily.data.sleep.created' }), false, 'event_type is fixed');
    const goal = compileCatalogSchema(newestSchema(get('goal_completed')));
    assert.equal(goal({ ...MIRI_GOAL_COMPLETED, occurred_at: '11/11/2024' }), false);
    assert.equal(goal({ ...MIRI_GOAL_COMPLETED, data: {} }), false, 'completed_at is required');
  });

  test("the seed documents' samples validate against their types; only Miri's, real data, is an example", () => {
    for (const [name, sample] of [
      ['goal_completed', MIRI_GOAL_COMPLETED],
      ['historical.data.workouts.created', VITAL_HISTORICAL_WORKOUTS],
      ['daily.data.workouts.created', VITAL_DAILY_WORKOUTS],
      ['provider.connection.created', VITAL_CONNECTION_CREATED],
    ] as const) {
      const schema = newestSchema(get(name));
      const validate = compileCatalogSchema(schema);
      assert.ok(validate(sample), `${name}: ${JSON.stringify(validate.errors)}`);
      // Vital's samples (ids cut short with "...", lorem ipsum, a workout of four and a half
      // years) are documentation, not data: send-example sends a realistic record instead.
      const isExample = schema.examples.some((e) => JSON.stringify(e) === JSON.stringify(sample));
      assert.equal(isExample, name === 'goal_completed', `${name}: the sample is ${isExample ? '' : 'not '}an example`);
    }
  });

  test('examples read as real data: no lorem ipsum, no ids cut short, no workout longer than a day', () => {
    for (const entry of catalog) {
      for (const [i, example] of newestSchema(entry).examples.entries()) {
        const text = JSON.stringify(example);
        assert.doesNotMatch(text, /lorem|ipsum|dolor|\.\.\.|putAny/i, `${entry.name} example ${i}`);
        const data = (example as { data?: { time_start?: string; time_end?: string } }).data;
        if (data?.time_start !== undefined && data.time_end !== undefined) {
          const hours = (Date.parse(data.time_end) - Date.parse(data.time_start)) / 3_600_000;
          assert.ok(hours > 0 && hours < 24, `${entry.name} example ${i} lasts ${hours} h`);
        }
      }
    }
  });

  test('daily.data.workouts.created carries a numeric calories field', () => {
    const data = (newestSchema(get('daily.data.workouts.created')).properties as Record<string, { properties: Record<string, { type: string }>; required: string[] }>).data;
    assert.equal(data.properties.calories!.type, 'number');
    assert.ok(data.required.includes('calories'));
  });

  test('historical events are thin: ids, window, is_final, provider and an optional content_url', () => {
    for (const r of VITAL_RESOURCES) {
      const schema = newestSchema(get(`historical.data.${r}.created`));
      const data = (schema.properties as Record<string, { required: string[]; properties: Record<string, unknown> }>).data;
      assert.deepEqual([...data.required].sort(), ['end_date', 'is_final', 'provider', 'start_date', 'user_id']);
      assert.ok('content_url' in data.properties, r);
      const validate = compileCatalogSchema(schema);
      const base = VITAL_HISTORICAL_WORKOUTS.data;
      assert.ok(validate({ event_type: `historical.data.${r}.created`, data: { ...base, content_url: 'https://api.example.com/records?page=2' } }), r);
      assert.ok(!validate({ event_type: `historical.data.${r}.created`, data: { ...base, is_final: 'yes' } }), r);
    }
  });

  test('identifierPaths finds the user id, record ids and providers', () => {
    const paths = (name: string) => identifierPaths(newestSchema(get(name))).map((p) => p.join('.'));
    assert.deepEqual(paths('goal_completed'), ['user_id', 'goal_artifact_id']);
    assert.deepEqual(paths('daily.data.workouts.created'), ['data.id', 'data.user_id', 'data.source.slug']);
    assert.deepEqual(paths('historical.data.sleep.created'), ['data.user_id', 'data.provider']);
    assert.deepEqual(paths('provider.connection.created'), ['data.user_id', 'data.source.source_slug']);
    assert.ok(paths('devices.provider-connected').includes('users.*.userId'));
    assert.ok(paths('medical.document-download').includes('patients.*.patientId'));
    for (const entry of catalog) {
      const found = paths(entry.name);
      assert.ok(found.some((p) => /(^|\.)(user_id|userId|patientId)$/.test(p)), `${entry.name} marks whose event it is: ${found}`);
    }
  });

  test('identifierPaths ignores unmarked and false-marked properties', () => {
    assert.deepEqual(
      identifierPaths({
        type: 'object',
        properties: {
          a: { type: 'string', 'x-identifier': false },
          b: { type: 'object', properties: { c: { type: 'string', 'x-identifier': true } } },
          d: { type: 'array', items: { type: 'object', properties: { e: { type: 'string', 'x-identifier': true } } } },
        },
      }),
      [['b', 'c'], ['d', '*', 'e']],
    );
  });

  test('the x-identifier annotation never changes what validates, and must be a boolean', () => {
    const ajv = createCatalogAjv();
    const validate = ajv.compile({ type: 'object', properties: { id: { type: 'string', 'x-identifier': true } } });
    assert.ok(validate({ id: 'x' }));
    assert.ok(!validate({ id: 1 }));
    assert.throws(() => createCatalogAjv().compile({ type: 'string', 'x-identifier': 'yes' }));
  });
});

describe('loadCatalog', () => {
  test('an unknown catalogue name is refused', () => {
    assert.throws(() => loadCatalog('nope'), /Unknown catalogue "nope"/);
  });

  test('a bad file is refused with an error naming it', () => {
    const good = readFileSync(join(CATALOG_DIR, 'goal_completed.json'), 'utf8');
    const entry = JSON.parse(good) as CatalogEntry;
    const cases: [file: string, text: string, message: RegExp][] = [
      ['goal_completed.json', '{"name": "goal_completed",', /goal_completed\.json: not valid JSON/],
      ['goal_completed.json', JSON.stringify({ ...entry, groupName: undefined }), /goal_completed\.json: .*groupName/],
      ['goal_completed.json', JSON.stringify({ ...entry, schemas: {} }), /goal_completed\.json: .*schemas/],
      ['goal_completed.json', JSON.stringify({ ...entry, schemas: { v1: entry.schemas['1'] } }), /goal_completed\.json: .*property name/],
      ['goal_completed.json', JSON.stringify({ ...entry, schemas: { '1': { ...entry.schemas['1'], examples: [] } } }), /goal_completed\.json: .*examples/],
      ['goal_completed.json', JSON.stringify({ ...entry, schemas: { '1': { ...entry.schemas['1'], $schema: 'http://json-schema.org/draft-07/schema#' } } }), /goal_completed\.json: .*\$schema/],
      ['goal-completed.json', good, /goal-completed\.json: holds event type "goal_completed", so it must be named "goal_completed\.json"/],
    ];
    for (const [file, text, message] of cases) {
      const dir = mkdtempSync(join(tmpdir(), 'hookwell-catalog-'));
      try {
        writeFileSync(join(dir, 'profile_updated.json'), readFileSync(join(CATALOG_DIR, 'profile_updated.json')));
        writeFileSync(join(dir, file), text);
        assert.throws(() => loadCatalogDir(dir), message);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  test('a folder of valid files loads sorted by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookwell-catalog-'));
    try {
      for (const name of ['profile_updated', 'goal_completed']) writeFileSync(join(dir, `${name}.json`), readFileSync(join(CATALOG_DIR, `${name}.json`)));
      writeFileSync(join(dir, 'notes.txt'), 'not an entry');
      assert.deepEqual(loadCatalogDir(dir).map((e) => e.name), ['goal_completed', 'profile_updated']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the Vital generator', () => {
  test('the committed files are what it generates, and a second run gives the same bytes', () => {
    const first = vitalFiles();
    assert.equal(first.size, 74);
    assert.deepEqual(vitalFiles(), first);
    for (const [file, text] of first) assert.equal(readFileSync(join(CATALOG_DIR, file), 'utf8'), text, file);
    assert.deepEqual(staleVitalFiles(CATALOG_DIR), []);
  });

  test('run as a script, it writes the same bytes to another folder; --check names a stale file and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookwell-catalog-'));
    try {
      execFileSync(process.execPath, ['--import', 'tsx', BUILD, '--out', dir], { stdio: 'pipe' });
      const written = readdirSync(dir).sort();
      assert.equal(written.length, 74);
      for (const file of written) assert.equal(readFileSync(join(dir, file), 'utf8'), readFileSync(join(CATALOG_DIR, file), 'utf8'), file);

      execFileSync(process.execPath, ['--import', 'tsx', BUILD, '--check', '--out', dir], { stdio: 'pipe' });
      writeFileSync(join(dir, 'daily.data.sleep.created.json'), '{}\n');
      writeFileSync(join(dir, 'daily.data.naps.created.json'), '{}\n');
      assert.throws(
        () => execFileSync(process.execPath, ['--import', 'tsx', BUILD, '--check', '--out', dir], { stdio: 'pipe' }),
        (error: { status: number; stderr: Buffer }) => {
          assert.equal(error.status, 1);
          assert.match(error.stderr.toString(), /stale: .*daily\.data\.sleep\.created\.json/);
          assert.match(error.stderr.toString(), /stale: .*daily\.data\.naps\.created\.json/);
          return true;
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
