// Generates the Vital family of the catalogue: for each resource, historical.data.<r>.created,
// daily.data.<r>.created and daily.data.<r>.updated, plus provider.connection.created and
// provider.connection.error. 74 files that differ only in their record's fields are written from one
// description per resource here, so a fix to the shared envelope is one edit, not 74.
// The Miri and Metriport files in ../catalog/ are written by hand.
//
//   node --import tsx packages/health/scripts/build-catalog.ts            rewrite the files in ../catalog/
//   node --import tsx packages/health/scripts/build-catalog.ts --out DIR  write them to DIR instead
//   node --import tsx packages/health/scripts/build-catalog.ts --check    exit 1 naming each file that differs
//
// Output is a pure function of this file (no clock, no randomness), so a re-run gives the same bytes.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JSON_SCHEMA_DRAFT_2020_12, type CatalogEntry, type CatalogSchema } from '../src/catalog.js';

type Schema = Record<string, unknown>;
type Example = Record<string, unknown>;

// --- schema helpers ---------------------------------------------------------------------

const str = (description: string, extra: Schema = {}): Schema => ({ type: 'string', description, ...extra });
const id = (description: string): Schema => ({ type: 'string', minLength: 1, description, 'x-identifier': true });
const num = (description: string, extra: Schema = {}): Schema => ({ type: 'number', description, ...extra });
const int = (description: string, extra: Schema = {}): Schema => ({ type: 'integer', description, ...extra });
const bool = (description: string): Schema => ({ type: 'boolean', description });
const dateTime = (description: string): Schema => ({ type: 'string', format: 'date-time', description });
const date = (description: string): Schema => ({ type: 'string', format: 'date', description });
const obj = (description: string, required: string[], properties: Record<string, Schema>): Schema => ({
  type: 'object',
  description,
  required,
  properties,
});
const arr = (description: string, items: Schema, extra: Schema = {}): Schema => ({ type: 'array', description, items, ...extra });
const nonNegative = { minimum: 0 };
const percent = { minimum: 0, maximum: 100 };

// --- providers ----------------------------------------------------------------------------

const PROVIDERS: Record<string, string> = {
  abbott_libreview: 'Abbott LibreView',
  apple_health_kit: 'Apple HealthKit',
  dexcom: 'Dexcom',
  fitbit: 'Fitbit',
  freestyle_libre: 'Freestyle Libre',
  garmin: 'Garmin',
  google_fit: 'Google Fit',
  omron: 'Omron',
  oura: 'Oura',
  strava: 'Strava',
  whoop: 'WHOOP',
  withings: 'Withings',
  zwift: 'Zwift',
};

const sourceOf = (slug: string): Example => ({
  name: PROVIDERS[slug]!,
  slug,
  logo: `https://storage.googleapis.com/vital-assets/${slug}.png`,
});

/** A UUID-shaped id derived from a label: realistic in examples, identical on every run. */
function uuid(label: string): string {
  const h = createHash('sha256').update(label).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const USERS = [uuid('user:1'), uuid('user:2'), uuid('user:3')] as const;

// --- resources ----------------------------------------------------------------------------

interface Resource {
  /** As in the event type name: daily.data.<name>.created. */
  name: string;
  /** "a workout": what one record is, for the descriptions. */
  noun: string;
  /** Where records come from; used by every example of this resource. */
  provider: string;
  /** The record's own fields; id, user_id, provider_id and source are added to every record. */
  required: string[];
  properties: Record<string, Schema>;
  /** The record's own fields of the created example. */
  example: Example;
  /** What the provider changed before the updated event was sent. */
  update: Example;
  /** The window the historical example covers. */
  history: [start: string, end: string];
  /** The API path that lists these records, for the historical example's content_url. */
  contentPath: string;
}

/** A point-in-time measurement, as Vital's timeseries resources send them. */
function sample(
  name: string,
  noun: string,
  provider: string,
  unit: Schema,
  value: Schema,
  example: { timestamp: string; timezone_offset: number; value: number; unit: string; type?: string },
  corrected: number,
  extra: Record<string, Schema> = {},
): Resource {
  return {
    name,
    noun,
    provider,
    required: ['timestamp', 'value', 'unit'],
    properties: {
      timestamp: dateTime('When the measurement was taken.'),
      timezone_offset: int("The user's offset from UTC at that time, in seconds.", { minimum: -86400, maximum: 86400 }),
      value,
      unit,
      type: str('How the value was obtained, e.g. "automatic" or "manual", where the provider says.'),
      ...extra,
    },
    example,
    update: { value: corrected },
    history: ['2024-02-01T00:00:00+00:00', '2024-03-01T00:00:00+00:00'],
    contentPath: `/v2/timeseries/{user_id}/${name}`,
  };
}

/** An amount over a time window (steps between start and end), as Vital's cumulative timeseries send them. */
function interval(
  name: string,
  noun: string,
  provider: string,
  unit: string,
  value: Schema,
  example: { start: string; end: string; timezone_offset: number; value: number },
  corrected: number,
): Resource {
  return {
    name,
    noun,
    provider,
    required: ['start', 'end', 'value', 'unit'],
    properties: {
      start: dateTime('Start of the window the amount covers.'),
      end: dateTime('End of the window the amount covers.'),
      timezone_offset: int("The user's offset from UTC at that time, in seconds.", { minimum: -86400, maximum: 86400 }),
      value,
      unit: { description: `Always "${unit}".`, const: unit },
      type: str('How the value was obtained, e.g. "automatic" or "manual", where the provider says.'),
    },
    example: { ...example, unit },
    update: { value: corrected },
    history: ['2024-02-01T00:00:00+00:00', '2024-03-01T00:00:00+00:00'],
    contentPath: `/v2/timeseries/{user_id}/${name}`,
  };
}

const constUnit = (unit: string): Schema => ({ description: `Always "${unit}".`, const: unit });

// The Vital document's own samples (a workout of four and a half years with lorem ipsum as its
// provider id, ids cut short with "...") are not used as examples: send-example and the
// generated receiver types show what real data looks like. test/catalog.test.ts keeps them
// verbatim and checks that they still validate against these schemas.

const hr = (what: string): Schema => num(`${what} heart rate, in beats per minute.`, nonNegative);

export const RESOURCES: Resource[] = [
  {
    name: 'activity',
    noun: 'a daily activity summary',
    provider: 'oura',
    required: ['calendar_date', 'calories_total', 'calories_active', 'steps'],
    properties: {
      calendar_date: date('The day the summary covers, in the user\'s time zone.'),
      calories_total: num('Energy burned that day, resting included, in kcal.', nonNegative),
      calories_active: num('Energy burned by activity that day, in kcal.', nonNegative),
      steps: int('Steps taken that day.', nonNegative),
      daily_movement: num('Distance moved that day, in metres.', nonNegative),
      floors_climbed: int('Floors climbed that day.', nonNegative),
      low: num('Minutes of low-intensity activity.', nonNegative),
      medium: num('Minutes of medium-intensity activity.', nonNegative),
      high: num('Minutes of high-intensity activity.', nonNegative),
      time_zone: str('IANA time zone of the day, e.g. "Europe/London".'),
    },
    example: {
      calendar_date: '2024-03-14',
      calories_total: 2412,
      calories_active: 618,
      steps: 9241,
      daily_movement: 7480,
      floors_climbed: 11,
      low: 212,
      medium: 41,
      high: 12,
      time_zone: 'Europe/London',
    },
    update: { calories_total: 2655, calories_active: 861, steps: 12870, daily_movement: 10410, medium: 58 },
    history: ['2023-03-15T00:00:00+00:00', '2024-03-14T00:00:00+00:00'],
    contentPath: '/v2/summary/activity/{user_id}',
  },
  {
    name: 'sleep',
    noun: 'a sleep session',
    provider: 'oura',
    required: ['calendar_date', 'bedtime_start', 'bedtime_stop', 'duration', 'total'],
    properties: {
      calendar_date: date('The day the session is counted for (the day the user woke up).'),
      bedtime_start: dateTime('When the user went to bed.'),
      bedtime_stop: dateTime('When the user got up.'),
      timezone_offset: int("The user's offset from UTC, in seconds.", { minimum: -86400, maximum: 86400 }),
      type: { description: 'A main sleep or a nap.', enum: ['long_sleep', 'short_sleep', 'acknowledged_nap', 'unknown'] },
      duration: int('Time in bed, in seconds.', nonNegative),
      total: int('Time asleep, in seconds.', nonNegative),
      awake: int('Time awake in bed, in seconds.', nonNegative),
      light: int('Time in light sleep, in seconds.', nonNegative),
      rem: int('Time in REM sleep, in seconds.', nonNegative),
      deep: int('Time in deep sleep, in seconds.', nonNegative),
      score: int("The provider's sleep score.", percent),
      efficiency: num('Time asleep as a percentage of time in bed.', percent),
      latency: int('Time to fall asleep, in seconds.', nonNegative),
      hr_lowest: hr('Lowest'),
      hr_average: hr('Average'),
      average_hrv: num('Average heart-rate variability (RMSSD), in milliseconds.', nonNegative),
      respiratory_rate: num('Average breaths per minute.', nonNegative),
      temperature_delta: num('Skin temperature deviation from the user\'s baseline, in °C.'),
    },
    example: {
      calendar_date: '2024-03-14',
      bedtime_start: '2024-03-13T23:04:12+00:00',
      bedtime_stop: '2024-03-14T06:51:40+00:00',
      timezone_offset: 0,
      type: 'long_sleep',
      duration: 28048,
      total: 25380,
      awake: 2668,
      light: 12960,
      rem: 6210,
      deep: 6210,
      score: 82,
      efficiency: 90.5,
      latency: 540,
      hr_lowest: 48,
      hr_average: 55.4,
      average_hrv: 61,
      respiratory_rate: 14.6,
      temperature_delta: -0.12,
    },
    update: { score: 84, awake: 2388, total: 25660 },
    history: ['2023-03-15T00:00:00+00:00', '2024-03-14T00:00:00+00:00'],
    contentPath: '/v2/summary/sleep/{user_id}',
  },
  {
    name: 'workouts',
    noun: 'a workout',
    provider: 'strava',
    required: ['time_start', 'time_end', 'calories'],
    properties: {
      title: str('The workout\'s title, as the user named it.'),
      sport: obj('What kind of workout.', ['name'], {
        id: int('Vital\'s id of the sport.'),
        name: str('The sport, e.g. "Running".'),
        slug: str('The sport as a slug, e.g. "running".'),
      }),
      time_start: dateTime('When the workout started.'),
      time_end: dateTime('When the workout ended.'),
      timezone_offset: int("The user's offset from UTC, in seconds.", { minimum: -86400, maximum: 86400 }),
      calories: num('Energy burned, in kcal.', nonNegative),
      distance: num('Distance covered, in metres.', nonNegative),
      moving_time: num('Time spent moving, in seconds.', nonNegative),
      average_hr: hr('Average'),
      max_hr: hr('Highest'),
      hr_zones: arr('Seconds spent in each heart-rate zone, lowest zone first.', num('Seconds in this zone.', nonNegative)),
      total_elevation_gain: num('Elevation gained, in metres.', nonNegative),
      elev_high: num('Highest elevation, in metres.'),
      elev_low: num('Lowest elevation, in metres.'),
      average_speed: num('Average speed, in metres per second.', nonNegative),
      max_speed: num('Highest speed, in metres per second.', nonNegative),
      average_watts: num('Average power, in watts.', nonNegative),
      max_watts: num('Highest power, in watts.', nonNegative),
    },
    example: {
      title: 'Morning Run',
      sport: { id: 1, name: 'Running', slug: 'running' },
      time_start: '2024-03-14T06:58:03+00:00',
      time_end: '2024-03-14T07:44:51+00:00',
      timezone_offset: 0,
      calories: 512,
      distance: 8120.4,
      moving_time: 2716,
      average_hr: 152,
      max_hr: 178,
      hr_zones: [142, 388, 1204, 846, 228],
      total_elevation_gain: 64,
      elev_high: 48.2,
      elev_low: 11.6,
      average_speed: 2.99,
      max_speed: 4.6,
    },
    update: { title: 'Tempo run by the river', calories: 538 },
    history: ['2023-03-15T00:00:00+00:00', '2024-03-14T00:00:00+00:00'],
    contentPath: '/v2/summary/workouts/{user_id}',
  },
  {
    name: 'body',
    noun: 'a body composition measurement',
    provider: 'withings',
    required: ['calendar_date'],
    properties: {
      calendar_date: date('The day of the measurement.'),
      weight: num('Body weight, in kg.', nonNegative),
      fat: num('Body fat, as a percentage of body weight.', percent),
      water_percentage: num('Body water, as a percentage of body weight.', percent),
      muscle_mass_percentage: num('Muscle mass, as a percentage of body weight.', percent),
      bone_mass_percentage: num('Bone mass, as a percentage of body weight.', percent),
      visceral_fat_index: num('Visceral fat index.', nonNegative),
      body_mass_index: num('Body mass index, in kg/m².', nonNegative),
    },
    example: {
      calendar_date: '2024-03-14',
      weight: 74.3,
      fat: 18.2,
      water_percentage: 56.1,
      muscle_mass_percentage: 41.7,
      bone_mass_percentage: 4.1,
      visceral_fat_index: 6,
      body_mass_index: 23.4,
    },
    update: { weight: 74.1, fat: 18 },
    history: ['2022-01-01T00:00:00+00:00', '2024-03-14T00:00:00+00:00'],
    contentPath: '/v2/summary/body/{user_id}',
  },
  {
    name: 'profile',
    noun: 'a user profile',
    provider: 'fitbit',
    required: [],
    properties: {
      height: num('Height, in cm.', nonNegative),
      birth_date: date('Date of birth.'),
      sex: { description: 'Sex as the provider records it.', enum: ['female', 'male', 'other', 'unknown'] },
      gender: str('Gender as the user gave it to the provider.'),
      wheelchair_use: bool('Whether the user uses a wheelchair.'),
    },
    example: { height: 178, birth_date: '1989-07-02', sex: 'male', gender: 'man', wheelchair_use: false },
    update: { height: 179 },
    history: ['2024-03-14T00:00:00+00:00', '2024-03-14T00:00:00+00:00'],
    contentPath: '/v2/summary/profile/{user_id}',
  },
  sample(
    'heartrate',
    'a heart-rate sample',
    'garmin',
    constUnit('bpm'),
    num('Heart rate, in beats per minute.', nonNegative),
    { timestamp: '2024-03-14T07:12:00+00:00', timezone_offset: 0, value: 148, unit: 'bpm', type: 'automatic' },
    147,
  ),
  sample(
    'hrv',
    'a heart-rate variability sample',
    'whoop',
    constUnit('rmssd'),
    num('Root mean square of successive differences between heartbeats, in milliseconds.', nonNegative),
    { timestamp: '2024-03-14T05:40:00+00:00', timezone_offset: 0, value: 63.2, unit: 'rmssd', type: 'automatic' },
    62.8,
  ),
  sample(
    'glucose',
    'a blood glucose reading',
    'dexcom',
    { description: 'The unit of value.', enum: ['mmol/L', 'mg/dL'] },
    num('Blood glucose concentration.', nonNegative),
    { timestamp: '2024-03-14T08:05:00+00:00', timezone_offset: 0, value: 5.8, unit: 'mmol/L', type: 'automatic' },
    5.7,
  ),
  {
    name: 'blood_pressure',
    noun: 'a blood pressure reading',
    provider: 'omron',
    required: ['timestamp', 'systolic', 'diastolic', 'unit'],
    properties: {
      timestamp: dateTime('When the measurement was taken.'),
      timezone_offset: int("The user's offset from UTC at that time, in seconds.", { minimum: -86400, maximum: 86400 }),
      systolic: num('Systolic pressure, in mmHg.', nonNegative),
      diastolic: num('Diastolic pressure, in mmHg.', nonNegative),
      unit: constUnit('mmHg'),
      type: str('How the value was obtained, e.g. "automatic" or "manual", where the provider says.'),
    },
    example: { timestamp: '2024-03-14T07:30:00+00:00', timezone_offset: 0, systolic: 118, diastolic: 76, unit: 'mmHg', type: 'manual' },
    update: { systolic: 121, diastolic: 78 },
    history: ['2024-02-01T00:00:00+00:00', '2024-03-01T00:00:00+00:00'],
    contentPath: '/v2/timeseries/{user_id}/blood_pressure',
  },
  sample(
    'blood_oxygen',
    'a blood oxygen saturation reading',
    'garmin',
    constUnit('%'),
    num('Oxygen saturation (SpO₂), in percent.', percent),
    { timestamp: '2024-03-14T03:20:00+00:00', timezone_offset: 0, value: 96, unit: '%', type: 'automatic' },
    97,
  ),
  interval(
    'steps',
    'a step count over a time window',
    'apple_health_kit',
    'count',
    int('Steps taken in the window.', nonNegative),
    { start: '2024-03-14T08:00:00+00:00', end: '2024-03-14T09:00:00+00:00', timezone_offset: 0, value: 1834 },
    1902,
  ),
  interval(
    'calories_active',
    'active energy burned over a time window',
    'fitbit',
    'kcal',
    num('Energy burned by activity in the window, in kcal.', nonNegative),
    { start: '2024-03-14T08:00:00+00:00', end: '2024-03-14T09:00:00+00:00', timezone_offset: 0, value: 96.4 },
    101.2,
  ),
  interval(
    'distance',
    'distance moved over a time window',
    'garmin',
    'm',
    num('Distance moved in the window, in metres.', nonNegative),
    { start: '2024-03-14T08:00:00+00:00', end: '2024-03-14T09:00:00+00:00', timezone_offset: 0, value: 1390.5 },
    1412,
  ),
  sample(
    'respiratory_rate',
    'a respiratory rate sample',
    'whoop',
    constUnit('bpm'),
    num('Breaths per minute.', nonNegative),
    { timestamp: '2024-03-14T04:10:00+00:00', timezone_offset: 0, value: 14.8, unit: 'bpm', type: 'automatic' },
    14.6,
  ),
  sample(
    'body_temperature',
    'a body temperature reading',
    'oura',
    constUnit('°C'),
    num('Body temperature, in °C.'),
    { timestamp: '2024-03-14T06:30:00+00:00', timezone_offset: 0, value: 36.6, unit: '°C', type: 'automatic' },
    36.7,
    { sensor_location: str('Where the temperature was taken, e.g. "finger" or "wrist".') },
  ),
  sample(
    'weight',
    'a weight measurement',
    'withings',
    constUnit('kg'),
    num('Body weight, in kg.', nonNegative),
    { timestamp: '2024-03-14T07:02:00+00:00', timezone_offset: 0, value: 74.3, unit: 'kg', type: 'automatic' },
    74.1,
  ),
  sample(
    'fat',
    'a body fat measurement',
    'withings',
    constUnit('%'),
    num('Body fat, as a percentage of body weight.', percent),
    { timestamp: '2024-03-14T07:02:00+00:00', timezone_offset: 0, value: 18.2, unit: '%', type: 'automatic' },
    18,
  ),
  interval(
    'water',
    'water drunk over a time window',
    'apple_health_kit',
    'mL',
    num('Water drunk in the window, in millilitres.', nonNegative),
    { start: '2024-03-14T12:00:00+00:00', end: '2024-03-14T12:05:00+00:00', timezone_offset: 0, value: 500 },
    330,
  ),
  {
    name: 'meal',
    noun: 'a logged meal',
    provider: 'apple_health_kit',
    required: ['timestamp', 'name', 'energy'],
    properties: {
      timestamp: dateTime('When the meal was eaten.'),
      name: str('What the user called the meal.', { minLength: 1 }),
      energy: obj('Energy content.', ['unit', 'value'], {
        unit: constUnit('kcal'),
        value: num('Energy, in kcal.', nonNegative),
      }),
      macros: obj('Macronutrients, in grams.', [], {
        carbs: num('Carbohydrates, in grams.', nonNegative),
        protein: num('Protein, in grams.', nonNegative),
        fats: obj('Fats, in grams.', [], {
          total: num('All fats, in grams.', nonNegative),
          saturated: num('Saturated fat, in grams.', nonNegative),
        }),
        fibre: num('Fibre, in grams.', nonNegative),
        sugar: num('Sugar, in grams.', nonNegative),
        alcohol: num('Alcohol, in grams.', nonNegative),
      }),
      micros: obj('Micronutrients, in grams, by name.', [], {
        minerals: { type: 'object', description: 'Minerals by name, in grams.', additionalProperties: { type: 'number', minimum: 0 } },
        vitamins: { type: 'object', description: 'Vitamins by name, in grams.', additionalProperties: { type: 'number', minimum: 0 } },
      }),
    },
    example: {
      timestamp: '2024-03-14T12:31:00+00:00',
      name: 'Chicken salad with quinoa',
      energy: { unit: 'kcal', value: 540 },
      macros: { carbs: 48.5, protein: 39, fats: { total: 19.2, saturated: 3.4 }, fibre: 7.1, sugar: 6.3 },
      micros: { minerals: { sodium: 0.82, potassium: 0.96 }, vitamins: { vitamin_c: 0.041 } },
    },
    update: { name: 'Chicken salad with quinoa and feta', energy: { unit: 'kcal', value: 612 } },
    history: ['2023-09-01T00:00:00+00:00', '2024-03-14T00:00:00+00:00'],
    contentPath: '/v2/summary/meal/{user_id}',
  },
  {
    name: 'menstrual_cycle',
    noun: 'a menstrual cycle',
    provider: 'apple_health_kit',
    required: ['period_start'],
    properties: {
      period_start: date('First day of the period.'),
      period_end: date('Last day of the period, once known.'),
      cycle_end: date('Last day of the cycle, once the next period has started.'),
      is_predicted: bool('Whether the dates are the provider\'s prediction rather than logged.'),
      menstrual_flow: arr(
        'Flow logged per day.',
        obj('Flow on one day.', ['date', 'flow'], {
          date: date('The day.'),
          flow: { description: 'How heavy the flow was.', enum: ['unknown', 'none', 'light', 'medium', 'heavy'] },
        }),
      ),
    },
    example: {
      period_start: '2024-02-26',
      period_end: '2024-03-01',
      is_predicted: false,
      menstrual_flow: [
        { date: '2024-02-26', flow: 'medium' },
        { date: '2024-02-27', flow: 'heavy' },
        { date: '2024-02-28', flow: 'medium' },
        { date: '2024-02-29', flow: 'light' },
        { date: '2024-03-01', flow: 'light' },
      ],
    },
    update: { cycle_end: '2024-03-24' },
    history: ['2023-03-01T00:00:00+00:00', '2024-03-14T00:00:00+00:00'],
    contentPath: '/v2/summary/menstrual_cycle/{user_id}',
  },
  sample(
    'vo2_max',
    'a VO₂ max estimate',
    'garmin',
    constUnit('mL/kg/min'),
    num('Maximal oxygen uptake, in mL per kg of body weight per minute.', nonNegative),
    { timestamp: '2024-03-14T07:44:51+00:00', timezone_offset: 0, value: 49, unit: 'mL/kg/min', type: 'automatic' },
    50,
  ),
  {
    name: 'electrocardiogram',
    noun: 'an electrocardiogram recording',
    provider: 'apple_health_kit',
    required: ['session_start', 'session_end', 'classification'],
    properties: {
      session_start: dateTime('When the recording started.'),
      session_end: dateTime('When the recording ended.'),
      voltage_sample_count: int('Number of voltage samples recorded.', nonNegative),
      sampling_frequency_hz: num('Samples per second.', nonNegative),
      heart_rate_mean: hr('Mean'),
      classification: str('The device\'s reading of the rhythm, e.g. "sinus_rhythm", "atrial_fibrillation" or "inconclusive".'),
      inconclusive_cause: str('Why the reading was inconclusive, e.g. "high_heart_rate" or "poor_reading".'),
      algorithm_version: str('Version of the device\'s classification algorithm.'),
    },
    example: {
      session_start: '2024-03-14T09:15:02+00:00',
      session_end: '2024-03-14T09:15:32+00:00',
      voltage_sample_count: 15360,
      sampling_frequency_hz: 512,
      heart_rate_mean: 72,
      classification: 'sinus_rhythm',
      algorithm_version: '2',
    },
    update: { classification: 'inconclusive', inconclusive_cause: 'poor_reading' },
    history: ['2023-03-15T00:00:00+00:00', '2024-03-14T00:00:00+00:00'],
    contentPath: '/v2/summary/electrocardiogram/{user_id}',
  },
  sample(
    'stress_level',
    'a stress level reading',
    'garmin',
    constUnit('score'),
    num("The provider's stress score, 0 (rest) to 100.", percent),
    { timestamp: '2024-03-14T15:00:00+00:00', timezone_offset: 0, value: 34, unit: 'score', type: 'automatic' },
    38,
  ),
  interval(
    'mindfulness_minutes',
    'a mindfulness session',
    'apple_health_kit',
    'min',
    num('Minutes of mindfulness in the window.', nonNegative),
    { start: '2024-03-14T21:30:00+00:00', end: '2024-03-14T21:45:00+00:00', timezone_offset: 0, value: 15 },
    12,
  ),
];

// --- event types --------------------------------------------------------------------------

function schema(title: string, description: string, data: Schema, name: string, examples: Example[]): CatalogSchema {
  return {
    $schema: JSON_SCHEMA_DRAFT_2020_12,
    title,
    description,
    type: 'object',
    required: ['event_type', 'data'],
    properties: {
      event_type: { description: `Always "${name}".`, const: name },
      data,
    },
    examples,
  };
}

function entry(name: string, description: string, s: CatalogSchema): CatalogEntry {
  return { name, description, groupName: 'vital', schemas: { '1': s } };
}

function historical(r: Resource): CatalogEntry {
  const name = `historical.data.${r.name}.created`;
  const description =
    `Backfill of ${r.name.replaceAll('_', ' ')} data: Vital finished pulling what a user had recorded at a provider before ` +
    `connecting it. Thin: fetch the records from the API for the window given. Large histories come in chunks, ` +
    `most recent first; is_final marks the last.`;
  const data = obj('Which user, provider and window the backfill covers.', ['user_id', 'start_date', 'end_date', 'is_final', 'provider'], {
    user_id: id("Vital's id of the user."),
    start_date: dateTime('Start of the window this chunk covers.'),
    end_date: dateTime('End of the window this chunk covers.'),
    is_final: bool('True on the last chunk: the backfill of this resource is complete.'),
    provider: id('The provider the data came from, as a slug, e.g. "garmin".'),
    content_url: str('Where to fetch the records of this chunk.', { format: 'uri' }),
  });
  const [start, end] = r.history;
  const user = USERS[1];
  const query = `start_date=${start.slice(0, 10)}&end_date=${end.slice(0, 10)}&provider=${r.provider}`;
  const generated = {
    event_type: name,
    data: {
      user_id: user,
      start_date: start,
      end_date: end,
      is_final: true,
      provider: r.provider,
      content_url: `https://api.tryvital.io${r.contentPath.replace('{user_id}', user)}?${query}`,
    },
  };
  return entry(name, description, schema(`Historical ${r.name.replaceAll('_', ' ')} backfilled`, description, data, name, [generated]));
}

function record(r: Resource): Schema {
  return obj(`The record: ${r.noun}.`, ['id', 'user_id', 'source', ...r.required], {
    id: id('Stable id of this record: a later update to it carries the same id, so store it.'),
    user_id: id("Vital's id of the user."),
    provider_id: str("The provider's own id of this record, where it has one."),
    source: obj('The provider the record came from.', ['name', 'slug'], {
      name: str('The provider\'s name, e.g. "Garmin".'),
      slug: id('The provider as a slug, e.g. "garmin".'),
      logo: str('URL of the provider\'s logo.', { format: 'uri' }),
    }),
    ...r.properties,
  });
}

function daily(r: Resource, change: 'created' | 'updated'): CatalogEntry {
  const name = `daily.data.${r.name}.${change}`;
  const description =
    change === 'created'
      ? `New data: ${r.noun} arrived from a connected provider. Store data.id; a later daily.data.${r.name}.updated carries the same id.`
      : `A record sent before (${r.noun}) changed at the provider, e.g. edited by the user or recomputed later that day. data.id is the id it was created with.`;
  const recordId = uuid(`${r.name}:record`);
  const created = { id: recordId, user_id: USERS[0], source: sourceOf(r.provider), ...r.example };
  const data = change === 'created' ? created : { ...created, ...r.update };
  const generated = { event_type: name, data };
  const title = `${r.name.replaceAll('_', ' ')} ${change}`;
  return entry(name, description, schema(title[0]!.toUpperCase() + title.slice(1), description, record(r), name, [generated]));
}

const connectionSource = obj('The provider.', ['source_name', 'source_slug'], {
  source_name: str('The provider\'s name, e.g. "Strava".'),
  source_slug: id('The provider as a slug, e.g. "strava".'),
  source_logo: str('URL of the provider\'s logo.', { format: 'uri' }),
});

function connectionCreated(): CatalogEntry {
  const name = 'provider.connection.created';
  const description = 'A user connected a provider. Historical backfill events for its resources follow.';
  const data = obj('Who connected which provider.', ['user_id', 'source'], {
    user_id: id("Vital's id of the user."),
    source: connectionSource,
  });
  const generated = {
    event_type: name,
    data: {
      user_id: USERS[2],
      source: { source_name: 'Oura', source_slug: 'oura', source_logo: 'https://storage.googleapis.com/vital-assets/oura.png' },
    },
  };
  return entry(name, description, schema('Provider connected', description, data, name, [generated]));
}

function connectionError(): CatalogEntry {
  const name = 'provider.connection.error';
  const description =
    'A connection stopped working (e.g. the provider revoked the token or the user withdrew a permission). No data arrives from it until the user reconnects.';
  const data = obj('Which connection failed and why.', ['user_id', 'source', 'error_type'], {
    user_id: id("Vital's id of the user."),
    source: connectionSource,
    error_type: str(
      'What went wrong, e.g. "token_refresh_failed", "required_scopes_not_granted", "provider_credential_error" or "deregistered_per_provider".',
      { minLength: 1 },
    ),
    error_details: str('Further detail from the provider, where it gives any.'),
  });
  const example = {
    event_type: name,
    data: {
      user_id: USERS[2],
      source: { source_name: 'Garmin', source_slug: 'garmin', source_logo: 'https://storage.googleapis.com/vital-assets/garmin.png' },
      error_type: 'token_refresh_failed',
      error_details: 'The refresh token was revoked by the provider.',
    },
  };
  return entry(name, description, schema('Provider connection failed', description, data, name, [example]));
}

/** The Vital family, sorted by name. */
export function vitalCatalog(): CatalogEntry[] {
  const entries = [
    ...RESOURCES.flatMap((r) => [historical(r), daily(r, 'created'), daily(r, 'updated')]),
    connectionCreated(),
    connectionError(),
  ];
  return entries.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** File name → exact file text. */
export function vitalFiles(): Map<string, string> {
  return new Map(vitalCatalog().map((e) => [`${e.name}.json`, `${JSON.stringify(e, null, 2)}\n`]));
}

/** The files this script owns in a folder: the hand-written ones never match. */
const OWNED = /^(historical\.data\.|daily\.data\.|provider\.connection\.).*\.json$/;

/** Names of the files in `dir` that differ from, are missing from or are extra to the generated set. */
export function staleVitalFiles(dir: string): string[] {
  const files = vitalFiles();
  const stale: string[] = [];
  for (const [file, text] of files) {
    let current: string | undefined;
    try {
      current = readFileSync(join(dir, file), 'utf8');
    } catch {
      current = undefined;
    }
    if (current !== text) stale.push(file);
  }
  for (const file of readdirSync(dir)) if (OWNED.test(file) && !files.has(file)) stale.push(file);
  return stale.sort();
}

function main(argv: string[]): number {
  const here = fileURLToPath(new URL('../catalog/', import.meta.url));
  const outAt = argv.indexOf('--out');
  const dir = outAt >= 0 ? argv[outAt + 1] : here;
  if (!dir) throw new Error('--out needs a directory');
  if (argv.includes('--check')) {
    const stale = staleVitalFiles(dir);
    for (const file of stale) console.error(`stale: ${join(dir, file)}`);
    if (stale.length > 0) {
      console.error('Run `node --import tsx packages/health/scripts/build-catalog.ts` to regenerate.');
      return 1;
    }
    return 0;
  }
  mkdirSync(dir, { recursive: true });
  const files = vitalFiles();
  for (const file of readdirSync(dir)) if (OWNED.test(file) && !files.has(file)) rmSync(join(dir, file));
  for (const [file, text] of files) writeFileSync(join(dir, file), text);
  console.log(`wrote ${files.size} files to ${dir}`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
