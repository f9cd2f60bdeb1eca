// A PATCH of an endpoint that an auto-disable overtakes: the PATCH reads the endpoint, the
// endpoint's receiver answers 410 to a delivery and the dispatcher disables it, and only then
// does the PATCH write. A PATCH that does not name `disabled` leaves the endpoint disabled,
// with the auto-disable's reason; one that sets `disabled: false` enables it and clears that
// reason. The overtaking is made to happen, in order, by holding the PATCH's write until the
// endpoint is disabled. With HOOKWELL_TEST_BACKEND=postgres the same runs on PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startReceiver, startServer, type Receiver, type TestServer } from './helpers.js';
import { DISABLED_REASONS } from '../src/domain/endpoint-health.js';
import type { EndpointFields, Store } from '../src/store/store.js';
import type { Endpoint } from '../src/domain/types.js';

const ON_POSTGRES = process.env.HOOKWELL_TEST_BACKEND === 'postgres';

describe(`an endpoint PATCH overtaken by its auto-disable (${ON_POSTGRES ? 'postgres' : 'sqlite'})`, () => {
  let server: TestServer;
  let receiver: Receiver;
  let store: Store;
  let update: Store['updateEndpoint'];
  /** Runs once, inside the next endpoint write, before it. */
  let beforeWrite: ((appId: string, id: string) => Promise<void>) | null = null;

  before(async () => {
    server = await startServer({ HOOKWELL_RETRY_SCHEDULE: '0' });
    receiver = await startReceiver();
    receiver.respond = () => ({ status: 410 });
    assert.equal((await server.api('POST', '/api/v1/app', { name: 'Clinic', uid: 'clinic' })).status, 201);
    store = server.hw.store;
    update = store.updateEndpoint.bind(store);
    store.updateEndpoint = async (appId: string, id: string, fields: EndpointFields): Promise<Endpoint> => {
      const hook = beforeWrite;
      beforeWrite = null;
      if (hook !== null) await hook(appId, id);
      return update(appId, id, fields);
    };
  });

  after(async () => {
    await server?.stop();
    await receiver?.close();
  });

  /** An enabled endpoint whose receiver answers 410 to whatever it is sent. */
  async function goneEndpoint(uid: string): Promise<string> {
    const ep = await server.api('POST', '/api/v1/app/clinic/endpoint', { uid, url: `${receiver.url}/${uid}` });
    assert.equal(ep.status, 201, ep.text);
    return ep.body.id;
  }

  /** Between the PATCH's read and its write: a message is delivered, answered 410, and the dispatcher disables the endpoint. */
  function autoDisableFirst(uid: string): void {
    beforeWrite = async (appId, id) => {
      const msg = await server.api('POST', '/api/v1/app/clinic/msg', { eventType: 'visit.booked', payload: { uid } });
      assert.equal(msg.status, 202, msg.text);
      await eventually(async () => ((await store.getEndpoint(appId, id))?.disabled === true ? true : undefined), 10_000, 'the auto-disable');
    };
  }

  it('keeps the endpoint disabled when the PATCH does not name `disabled`', async () => {
    const id = await goneEndpoint('quiet');
    autoDisableFirst('quiet');
    const patched = await server.api('PATCH', `/api/v1/app/clinic/endpoint/${id}`, { description: 'renamed' });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(beforeWrite, null, 'the auto-disable ran between the read and the write');
    assert.equal(patched.body.description, 'renamed');
    assert.equal(patched.body.disabled, true);
    const now = (await server.api('GET', `/api/v1/app/clinic/endpoint/${id}`)).body;
    assert.equal(now.disabled, true);
    assert.equal(now.description, 'renamed');
    assert.equal(now.disabledReason, DISABLED_REASONS.gone);
  });

  it('enables the endpoint, and clears why it was disabled, when the PATCH sets `disabled: false`', async () => {
    const id = await goneEndpoint('loud');
    autoDisableFirst('loud');
    const patched = await server.api('PATCH', `/api/v1/app/clinic/endpoint/${id}`, { disabled: false });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(beforeWrite, null);
    const now = (await server.api('GET', `/api/v1/app/clinic/endpoint/${id}`)).body;
    assert.equal(now.disabled, false);
    assert.equal(now.disabledReason ?? null, null, 'an enabled endpoint keeps no reason for being disabled');
  });

  it('records a manual disable when the PATCH sets `disabled: true` on an enabled endpoint', async () => {
    const id = await goneEndpoint('manual');
    const patched = await server.api('PATCH', `/api/v1/app/clinic/endpoint/${id}`, { disabled: true });
    assert.equal(patched.status, 200, patched.text);
    const now = (await server.api('GET', `/api/v1/app/clinic/endpoint/${id}`)).body;
    assert.equal(now.disabled, true);
    assert.equal(now.disabledReason, DISABLED_REASONS.manual);
  });
});
