// The web UI in a real browser: Debian's Chromium driven by playwright-core, against a real
// Hookwell and a real receiver. Each flow checks what the screen shows and what the server
// and the receiver saw. One browser is shared; each flow has a fresh context (no storage,
// no session carried over). HOOKWELL_TEST_CHROMIUM names another Chromium.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Locator, type Page } from 'playwright-core';
import { verify } from '@hookwell/receiver';
import { eventually, request, startReceiver, startServer, TOKEN, type ApiResponse, type Receiver, type Received, type TestServer } from './helpers.js';

const CHROMIUM = process.env.HOOKWELL_TEST_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** An event type of the health catalogue, with an example in its schema. */
const MEAL = 'daily.data.meal.created';
/** What a broken receiver answers. */
const BROKEN_BODY = '{"error":"nutrition database unavailable"}';
/** Markup in a payload and in a response body: it must be shown as text and never run. */
const MARKUP_IMG = '<img src=x onerror="window.__xss=1">';
const MARKUP_SCRIPT = '<script>window.__xss=2</script>';
const MARKUP_RESPONSE = '<b id="xss-response">bold</b><svg onload="window.__xss=3"></svg>';

/** Fails with `what` when `check` has not returned a value within `ms`. */
const until = <T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> => eventually(check, ms, what);

interface Flow {
  context: BrowserContext;
  page: Page;
  /** Console errors, uncaught exceptions, CSP violations and requests to other origins, from any page of the context. */
  problems: string[];
}

describe('the web UI in a real browser', { timeout: 110_000 }, () => {
  let server: TestServer;
  let receiver: Receiver;
  let browser: Browser;
  /** Receiver paths that answer 500 with BROKEN_BODY until removed. */
  const broken = new Set<string>();
  const flows: BrowserContext[] = [];
  let elsewhere: Receiver;
  /** The page that /host serves: a platform's page framing the portal. */
  let hostPage = '';
  /** The link flow 1 copies, opened by the customer in flow 2. */
  let copiedLink: string | undefined;

  const call = (token: string, method: string, path: string, body?: unknown): Promise<ApiResponse> =>
    request(server.url + path, method, {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    }, body === undefined ? undefined : JSON.stringify(body));

  async function api(method: string, path: string, body?: unknown, status = method === 'POST' ? [200, 201, 202] : [200]): Promise<any> {
    const res = await server.api(method, path, body);
    assert.ok(status.includes(res.status), `${method} ${path} answered ${res.status}: ${res.text}`);
    return res.body;
  }

  async function portalLink(app: string, body: unknown = {}): Promise<{ url: string; token: string }> {
    return api('POST', `/api/v1/auth/app-portal-access/${app}`, body, [200]);
  }

  async function app(name: string, uid: string): Promise<string> {
    return (await api('POST', '/api/v1/app', { name, uid })).id as string;
  }

  async function endpoint(appUid: string, path: string, extra: Record<string, unknown> = {}): Promise<string> {
    return (await api('POST', `/api/v1/app/${appUid}/endpoint`, { url: receiver.url + path, ...extra })).id as string;
  }

  async function message(appUid: string, payload: unknown, eventType = MEAL): Promise<string> {
    return (await api('POST', `/api/v1/app/${appUid}/msg`, { eventType, payload })).id as string;
  }

  /** The requests the receiver got on `path` (pings excluded). */
  const deliveriesTo = (path: string): Received[] => receiver.received.filter((r) => r.path === path && !isPing(r));

  /** A fresh context whose pages report console errors, uncaught errors and CSP violations. */
  async function open(options: BrowserContextOptions = {}): Promise<Flow> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
    context.setDefaultTimeout(10_000);
    flows.push(context);
    const problems: string[] = [];
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`));
    });
    const watch = (page: Page) => {
      // Self-hosted and offline: no CDN, font or tracker of another origin, ever.
      page.on('request', (req) => {
        const origin = new URL(req.url()).origin;
        if (req.url().startsWith('data:') || [server.url, receiver.url, elsewhere.url].includes(origin)) return;
        problems.push(`request to another origin from ${page.url()}: ${req.url()}`);
      });
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console error on ${page.url()}: ${m.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`uncaught error on ${page.url()}: ${err.message}`));
    };
    context.on('page', watch);
    const page = await context.newPage();
    return { context, page, problems };
  }

  async function close(flow: Flow): Promise<void> {
    await flow.context.close();
    flows.splice(flows.indexOf(flow.context), 1);
    assert.deepEqual(flow.problems, [], 'no console error, uncaught error, CSP violation or request to another origin');
  }

  /** Signs in to the dashboard with the admin token. */
  async function signIn(page: Page): Promise<void> {
    await page.goto(`${server.url}/dashboard`);
    await page.getByLabel('Admin token').fill(TOKEN);
    await page.getByTestId('sign-in-submit').click();
    await page.getByTestId('dashboard').waitFor();
    assert.ok(!page.url().includes(TOKEN), 'the admin token stays out of the URL');
  }

  /** Opens a portal link, waits for the application's name. */
  async function openPortal(page: Page, url: string, appName: string): Promise<void> {
    await page.goto(url);
    await until(`the portal of ${appName}`, async () => ((await page.getByTestId('app-name').textContent()) === appName ? true : undefined));
    assert.ok(!page.url().includes('key='), `the token leaves the address bar: ${page.url()}`);
  }

  /** Follows an application tab (Endpoints, Messages, Testing, Backfills). */
  async function tab(page: Page, name: 'endpoints' | 'messages' | 'testing' | 'backfills'): Promise<void> {
    await page.getByTestId(`tab-${name}`).click();
  }

  /** Waits until `locator`'s text matches; returns it. */
  async function textOf(locator: Locator, expected: RegExp | string, what: string, ms = 10_000): Promise<string> {
    const deadline = Date.now() + ms;
    let last: string | null = null;
    for (;;) {
      last = (await locator.first().textContent({ timeout: 1000 }).catch(() => null))?.trim() ?? null;
      if (last !== null && (typeof expected === 'string' ? last.includes(expected) : expected.test(last))) return last;
      if (Date.now() > deadline) throw new Error(`${what}: expected ${expected}, the page shows ${JSON.stringify(last)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Reloads the current view (the same hash) until `check` holds: the UI does not push updates. */
  async function refreshUntil<T>(page: Page, what: string, check: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
    return until(what, async () => {
      const v = await check();
      if (v !== undefined) return v;
      await page.reload();
      await page.waitForLoadState('domcontentloaded');
      return undefined;
    }, ms);
  }

  before(async () => {
    // The receiver's origin also stands for the platform's own site, which embeds the portal;
    // another origin stands for any other site.
    receiver = await startReceiver();
    elsewhere = await startReceiver();
    elsewhere.respond = () => ({ status: 200, headers: { 'content-type': 'text/html' }, body: hostPage });
    // One quick retry, then "failed": the failure flow does not wait for the real schedule.
    server = await startServer({ HOOKWELL_RETRY_SCHEDULE: '0.1', HOOKWELL_PORTAL_FRAME_ANCESTORS: receiver.url });
    receiver.respond = (r) => {
      if (r.path === '/host') return { status: 200, headers: { 'content-type': 'text/html' }, body: hostPage };
      if (r.path === '/no-pong') return { status: 200, body: 'hello' };
      if (isPing(r)) return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pong: pingOf(r) }) };
      if (broken.has(r.path)) return { status: 500, headers: { 'content-type': 'application/json' }, body: BROKEN_BODY };
      if (r.path.startsWith('/markup')) return { status: 200, headers: { 'content-type': 'text/html' }, body: MARKUP_RESPONSE };
      return { status: 200, body: 'ok' };
    };
    await api('POST', '/api/v1/event-type/import', { catalog: 'health' }, [200]);
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    } catch (err) {
      throw new Error(`Chromium did not start from ${CHROMIUM}: install it (apt-get install -y chromium) or set HOOKWELL_TEST_CHROMIUM.\n${(err as Error).message}`);
    }
  });

  after(async () => {
    for (const c of flows.splice(0)) await c.close().catch(() => undefined);
    await browser?.close();
    await receiver?.close();
    await elsewhere?.close();
    await server?.stop();
  });

  it('serves /portal and /dashboard under a CSP without inline script', async () => {
    for (const path of ['/portal', '/dashboard']) {
      const res = await fetch(server.url + path);
      assert.equal(res.status, 200, path);
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'(;|$)/, `${path} CSP: ${csp}`);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, `${path} CSP: ${csp}`);
      assert.match(csp, /frame-ancestors /, `${path} CSP: ${csp}`);
    }
  });

  it('1. the operator signs in, creates an application and copies its portal link', async () => {
    const flow = await open();
    const { page, context } = flow;
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    // A wrong token is refused, and says so.
    await page.goto(`${server.url}/dashboard`);
    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByTestId('sign-in-submit').click();
    await page.getByTestId('sign-in-error').waitFor();
    assert.equal(await page.getByTestId('dashboard').count(), 0, 'not signed in');
    // The browser logs the 401 as a failed resource load: expected here.
    flow.problems.splice(0, flow.problems.length, ...flow.problems.filter((p) => !/status of 401/.test(p)));
    await signIn(page);
    await page.getByTestId('nav-apps').click();
    await page.getByLabel('Name', { exact: true }).fill('Acme Nutrition');
    await page.getByTestId('new-app-uid').fill('acme-nutrition');
    await page.getByTestId('create-app').click();
    await page.getByTestId('app-page').waitFor();

    // The server has it, as typed, and the page is its own.
    const created = (await api('GET', '/api/v1/app/acme-nutrition')) as { id: string; name: string; uid: string };
    assert.equal(created.name, 'Acme Nutrition');
    assert.equal(await page.getByTestId('app-page').getAttribute('data-app-id'), created.id);
    await textOf(page.getByTestId('app-name'), 'Acme Nutrition', 'the application page');

    await page.getByRole('button', { name: 'Copy portal link for Acme Nutrition' }).click();
    const shown = await page.getByTestId('portal-link-url').inputValue();
    // The button copies the link it made, and says so.
    await textOf(page.getByTestId('portal-link-copied'), 'Copied to the clipboard.', 'the copy note');
    const link = await until('the portal link on the clipboard', async () => {
      const text = await page.evaluate(() => navigator.clipboard.readText()).catch(() => '');
      return text !== '' ? text : undefined;
    });
    assert.equal(link, shown, 'the clipboard holds the link shown');
    assert.match(link, new RegExp(`^${server.url.replace(/[.]/g, '\\.')}/portal#key=hwp_[A-Za-z0-9_-]+$`));
    // The link's token is a bearer for this application only, with every capability.
    const who = await call(new URL(link).hash.slice('#key='.length), 'GET', '/api/v1/auth/whoami');
    assert.equal(who.status, 200, who.text);
    assert.equal(who.body.appId, created.id);
    assert.equal(who.body.permissionSource, 'appPortal');
    assert.equal(who.body.readOnly, false);
    // The read-only box gives a read-only link.
    await page.getByTestId('portal-link').getByLabel('read-only').check();
    await page.getByRole('button', { name: 'Copy portal link for Acme Nutrition' }).click();
    await until('a new link', async () => ((await page.getByTestId('portal-link-url').inputValue()) !== shown ? true : undefined));
    const roWho = await call(new URL(await page.getByTestId('portal-link-url').inputValue()).hash.slice('#key='.length), 'GET', '/api/v1/auth/whoami');
    assert.equal(roWho.body.readOnly, true, roWho.text);
    assert.deepEqual(roWho.body.capabilities, ['ViewBase']);
    // The applications list counts it.
    await page.getByTestId('nav-apps').click();
    await textOf(page.locator(`[data-testid="application-row"][data-app-id="${created.id}"]`), 'Acme Nutrition', 'the applications list');
    copiedLink = link;
    await close(flow);
  });

  it('2. the customer opens the link, adds a ping-verified endpoint, sends an example and sees the attempt', async () => {
    if (copiedLink === undefined) await app('Acme Nutrition', 'acme-nutrition');
    const url = copiedLink ?? (await portalLink('acme-nutrition')).url;
    const flow = await open();
    const { page } = flow;
    await openPortal(page, url, 'Acme Nutrition');
    await page.getByTestId('no-endpoints').waitFor();

    await page.getByTestId('add-endpoint').click();
    // A URL that does not answer the ping is not saved, and the form says why.
    await page.getByTestId('endpoint-url').fill(`${receiver.url}/no-pong`);
    await page.getByTestId('verify-and-save').click();
    await textOf(page.getByTestId('endpoint-save-error'), /^url: .*ping check.*without the matching pong: hello/, 'the failed ping');
    assert.equal((await api('GET', '/api/v1/app/acme-nutrition/endpoint')).data.length, 0, 'nothing saved');
    assert.equal(receiver.received.filter((r) => r.path === '/no-pong').length, 1, 'one ping');
    // The 422 is logged by the browser as a failed resource load: expected here.
    flow.problems.splice(0, flow.problems.length, ...flow.problems.filter((p) => !/status of 422/.test(p)));

    await page.getByTestId('endpoint-url').fill(`${receiver.url}/acme`);
    await page.getByTestId('endpoint-description').fill('Meal log sync');
    // The catalogue is long: the customer filters it, then picks the type.
    await page.getByTestId('event-type-filter').fill(MEAL);
    await page.getByTestId(`event-type-${MEAL}`).check();
    const shownSecret = await page.getByTestId('new-secret').inputValue();
    await page.getByTestId('verify-and-save').click();
    await page.getByTestId('endpoint-detail').waitFor();

    // The server checked the URL with a ping before saving, and saved what was typed.
    const pings = receiver.received.filter((r) => r.path === '/acme' && isPing(r));
    assert.equal(pings.length, 1, 'one ping/pong check');
    const eps = (await api('GET', '/api/v1/app/acme-nutrition/endpoint')).data as any[];
    assert.equal(eps.length, 1);
    assert.equal(eps[0].url, `${receiver.url}/acme`);
    assert.equal(eps[0].description, 'Meal log sync');
    assert.deepEqual(eps[0].filterTypes, [MEAL]);
    assert.equal((await api('GET', `/api/v1/app/acme-nutrition/endpoint/${eps[0].id}/secret`)).key, shownSecret, 'the secret shown is the one saved');
    await textOf(page.getByTestId('endpoint-url-value'), `${receiver.url}/acme`, 'the endpoint page');
    await textOf(page.getByTestId('last-ping'), /^ok/, 'the last ping');

    await tab(page, 'testing');
    await page.getByTestId('test-event-type').selectOption(MEAL);
    await page.getByTestId('send-example').click();
    const msgId = (await textOf(page.getByTestId('test-message-link'), /^msg_/, 'the sent message')).trim();
    const got = await until('the example at the receiver', () => deliveriesTo('/acme').find((r) => r.headers['webhook-id'] === msgId));
    const sent = JSON.parse(got.body.toString()) as { event_type?: string; type?: string };
    assert.equal(sent.event_type ?? sent.type, MEAL);
    await textOf(page.getByTestId('test-result').getByTestId('attempt-code'), '200', 'the attempt of the example');

    // The message log has it, and its page shows the successful attempt.
    await tab(page, 'messages');
    const row = page.locator(`[data-testid="message-row"][data-message-id="${msgId}"]`);
    await row.waitFor();
    await row.getByRole('link', { name: msgId }).click();
    await page.getByTestId('message-detail').waitFor();
    await refreshUntil(page, 'a successful attempt in the message page', async () =>
      (await page.locator('[data-testid="attempt-row"][data-status="success"]').count()) === 1 ? true : undefined,
    );
    await textOf(page.getByTestId('message-attempts').getByTestId('attempt-code'), '200', 'the attempt code');
    await textOf(page.getByTestId('delivery-row'), 'success', 'the delivery to the endpoint');
    const payload = await page.getByTestId('message-payload').textContent();
    assert.equal(JSON.parse(payload ?? '').event_type ?? JSON.parse(payload ?? '').type, MEAL, 'the payload, pretty, as text');
    // Once deleted, the page says so rather than showing an empty payload; the attempt stays.
    await api('DELETE', `/api/v1/app/acme-nutrition/msg/${msgId}/content`, undefined, [204]);
    await page.reload();
    await page.getByTestId('message-payload-deleted').waitFor();
    assert.equal(await page.getByTestId('message-payload').count(), 0);
    await textOf(page.getByTestId('message-attempts').getByTestId('attempt-code'), '200', 'the attempt code, kept');
    await close(flow);
  });

  it('3. failed attempts show status and body; once the receiver is fixed, resend and retry all failed deliver', async () => {
    await app('Brokenbowl', 'brokenbowl');
    broken.add('/brokenbowl');
    await endpoint('brokenbowl', '/brokenbowl', { description: 'Down for maintenance' });
    const first = await message('brokenbowl', { event_type: MEAL, data: { id: 'meal-1', calories: 640 } });
    const second = await message('brokenbowl', { event_type: MEAL, data: { id: 'meal-2', calories: 420 } });
    // Each is tried twice (the schedule has one retry), then failed.
    await until('both deliveries to fail', async () => {
      const status = await api('GET', '/api/v1/app/brokenbowl/status');
      return status.failed === 2 ? true : undefined;
    });
    assert.equal(deliveriesTo('/brokenbowl').length, 4);

    const { url } = await portalLink('brokenbowl');
    const flow = await open();
    const { page } = flow;
    await openPortal(page, url, 'Brokenbowl');
    await textOf(page.getByTestId('endpoint-state'), 'failing', 'the endpoint state');
    await page.getByRole('link', { name: `${receiver.url}/brokenbowl` }).click();
    await page.getByTestId('endpoint-detail').waitFor();
    const rows = page.getByTestId('endpoint-attempts').getByTestId('attempt-row');
    await until('four failed attempts on the endpoint page', async () => ((await rows.count()) === 4 ? true : undefined));
    for (const code of await page.getByTestId('endpoint-attempts').getByTestId('attempt-code').allTextContents()) assert.equal(code.trim(), '500');
    await rows.first().locator('summary').click();
    assert.equal((await rows.first().getByTestId('attempt-response').textContent())?.trim(), BROKEN_BODY);

    // The receiver is fixed; one message is resent from its page.
    broken.delete('/brokenbowl');
    await page.goto(`${server.url}/portal#/messages/${first}`);
    await page.getByTestId('message-detail').waitFor();
    await textOf(page.getByTestId('delivery-row'), 'fail', 'the failed delivery');
    await page.getByRole('button', { name: `Resend to ${receiver.url}/brokenbowl` }).click();
    await textOf(page.getByTestId('resend-status'), 'Resent', 'the resend status');
    await until('the resent message to arrive', () => (deliveriesTo('/brokenbowl').filter((r) => r.headers['webhook-id'] === first).length === 3 ? true : undefined));
    assert.equal(deliveriesTo('/brokenbowl').filter((r) => r.headers['webhook-id'] === second).length, 2, 'only the resent message went again');
    await refreshUntil(page, 'the resent delivery to show success', async () =>
      (await page.locator('[data-testid="delivery-row"][data-status="success"]').count()) === 1 ? true : undefined,
    );
    await textOf(page.locator('[data-testid="attempt-row"][data-status="success"]').getByTestId('attempt-code'), '200', 'the successful attempt');
    await page.locator('[data-testid="attempt-row"][data-status="fail"]').first().waitFor();

    // The log, filtered on failed deliveries, lists the other one only.
    await tab(page, 'messages');
    const failedRows = async () => page.getByTestId('message-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-message-id')));
    await page.getByTestId('filter-status').selectOption('2');
    await page.getByTestId('apply-filters').click();
    await until('the failed filter to list one message', async () => ((await failedRows()).length === 1 ? true : undefined));
    assert.deepEqual(await failedRows(), [second]);

    // It goes with "retry all failed", whose counts show it.
    await page.getByTestId('retry-all-failed-button').click();
    await textOf(page.getByTestId('retry-all-failed-counts'), /Failed before: 1\. Queued again: 1\./, 'the retry counts');
    await until('the second message to arrive', () => (deliveriesTo('/brokenbowl').filter((r) => r.headers['webhook-id'] === second).length === 3 ? true : undefined));
    // The receiver answers before the server records the answer.
    await until('no failed delivery left', async () => ((await api('GET', '/api/v1/app/brokenbowl/status')).failed === 0 ? true : undefined));
    assert.deepEqual((await api('GET', '/api/v1/app/brokenbowl/msg?status=2')).data, [], 'the API lists no failed message');
    await page.getByTestId('refresh-messages').click();
    await page.getByTestId('no-messages').waitFor();
    await page.goto(`${server.url}/portal#/messages/${second}`);
    await refreshUntil(page, 'the retried delivery to show success', async () =>
      (await page.locator('[data-testid="delivery-row"][data-status="success"]').count()) === 1 ? true : undefined,
    );
    assert.equal(await page.locator('[data-testid="attempt-row"][data-status="success"]').count(), 1);
    assert.equal(await page.locator('[data-testid="attempt-row"][data-status="fail"]').count(), 2);
    await page.goto(`${server.url}/portal#/endpoints`);
    await textOf(page.getByTestId('endpoint-state'), 'healthy', 'the endpoint state once fixed');
    await close(flow);
  });

  it('4. the secret is rotated in the UI and the next delivery verifies with the new one', async () => {
    await app('Rotating Greens', 'rotating');
    const epId = await endpoint('rotating', '/rotating');
    const oldSecret = (await api('GET', `/api/v1/app/rotating/endpoint/${epId}/secret`)).key as string;
    const { url } = await portalLink('rotating');
    const flow = await open();
    const { page } = flow;
    await openPortal(page, url, 'Rotating Greens');
    await page.goto(`${server.url}/portal#/endpoints/${epId}`);
    await page.getByTestId('endpoint-detail').waitFor();
    // Shown only on an explicit click.
    assert.ok(!(await page.content()).includes(oldSecret), 'the secret is not in the page before "reveal"');
    await page.getByTestId('reveal-secret').click();
    assert.equal(await page.getByTestId('secret-value').inputValue(), oldSecret);

    await page.getByTestId('rotate-secret').click();
    await page.getByTestId('rotate-secret-confirm').click();
    await textOf(page.getByTestId('secret-status'), /rotated/i, 'the rotation status');
    const newSecret = (await api('GET', `/api/v1/app/rotating/endpoint/${epId}/secret`)).key as string;
    assert.notEqual(newSecret, oldSecret, 'the server holds a new secret');
    await until('the new secret on screen', async () => ((await page.getByTestId('secret-value').inputValue()) === newSecret ? true : undefined));

    await tab(page, 'testing');
    await page.getByTestId('test-event-type').selectOption(MEAL);
    await page.getByTestId('send-example').click();
    const msgId = (await textOf(page.getByTestId('test-message-link'), /^msg_/, 'the sent message')).trim();
    const got = await until('the delivery after rotation', () => deliveriesTo('/rotating').find((r) => r.headers['webhook-id'] === msgId));
    const verified = verify(got.body, got.headers, newSecret) as { event_type?: string; type?: string };
    assert.equal(verified.event_type ?? verified.type, MEAL);
    await close(flow);
  });

  it("5. app A's portal shows nothing of app B; a read-only link shows no write controls and cannot write", async () => {
    await app('Alpha Foods', 'alpha');
    await app('Bravo Diets', 'bravo');
    const aEp = await endpoint('alpha', '/alpha', { description: 'Alpha kitchen' });
    const bEp = await endpoint('bravo', '/bravo-private-7f3a', { description: 'Bravo secret kitchen' });
    const aMsg = await message('alpha', { event_type: MEAL, data: { id: 'alpha-meal' } });
    const bMsg = await message('bravo', { event_type: MEAL, data: { id: 'bravo-meal-9c1d' } });
    await until('both deliveries', () => (deliveriesTo('/alpha').length && deliveriesTo('/bravo-private-7f3a').length ? true : undefined));
    const bravo = await api('GET', '/api/v1/app/bravo');
    const bTraces = [bEp, bMsg, bravo.id, 'bravo-private-7f3a', 'Bravo secret kitchen', 'bravo-meal-9c1d', 'Bravo Diets'];

    const { url } = await portalLink('alpha');
    const flow = await open();
    const { page } = flow;
    await openPortal(page, url, 'Alpha Foods');
    // Each page, once what it loads is on screen, and something of A's it must show.
    const pages: [string, string, string][] = [
      ['#/endpoints', 'endpoint-success-rate', `${receiver.url}/alpha`],
      [`#/endpoints/${aEp}`, 'attempt-row', aEp],
      ['#/messages', 'message-row', aMsg],
      [`#/messages/${aMsg}`, 'attempt-row', 'alpha-meal'],
      ['#/testing', 'testing', `${receiver.url}/alpha`],
      ['#/backfills', 'no-backfills', 'Alpha Foods'],
    ];
    for (const [hash, testid, own] of pages) {
      await page.goto(`${server.url}/portal${hash}`);
      await page.getByTestId(testid).first().waitFor();
      await page.waitForLoadState('networkidle');
      const html = await page.content();
      assert.ok(html.includes(own), `${hash} of app A shows ${own}`);
      for (const trace of bTraces) assert.ok(!html.includes(trace), `${hash} of app A shows ${trace} of app B`);
    }
    // B's ids typed into A's portal find nothing.
    for (const hash of [`#/endpoints/${bEp}`, `#/messages/${bMsg}`]) {
      await page.goto(`${server.url}/portal${hash}`);
      await page.getByRole('alert').waitFor();
      const html = await page.content();
      for (const trace of bTraces.filter((t) => t !== bEp && t !== bMsg)) assert.ok(!html.includes(trace), `${hash} in app A's portal shows ${trace}`);
    }
    // The API answers a token of A that B does not exist.
    const aToken = new URL(url).hash.slice('#key='.length);
    assert.equal((await call(aToken, 'GET', `/api/v1/app/bravo/endpoint/${bEp}`)).status, 404);
    // A 404 is logged by the browser as a failed resource load: expected here.
    flow.problems.splice(0, flow.problems.length, ...flow.problems.filter((p) => !/status of 404/.test(p)));
    await close(flow);

    // Read-only.
    const ro = await portalLink('alpha', { readOnly: true });
    const roFlow = await open();
    const rp = roFlow.page;
    await openPortal(rp, ro.url, 'Alpha Foods');
    await rp.getByTestId('read-only').waitFor();
    assert.equal(await rp.getByTestId('portal').getAttribute('data-readonly'), 'true');
    const writeControls = /add endpoint|edit|delete|rotate|resend|retry|recover|send example|disable|enable|ping|generate|remove|save/i;
    for (const [hash, testid] of pages) {
      await rp.goto(`${server.url}/portal${hash}`);
      await rp.getByTestId(testid).or(rp.getByText('This link cannot send test events.')).first().waitFor();
      await rp.waitForLoadState('networkidle');
      const controls = await rp.locator('main').getByRole('button').or(rp.locator('main').getByRole('link')).allTextContents();
      const writes = controls.map((c) => c.trim()).filter((c) => writeControls.test(c));
      assert.deepEqual(writes, [], `${hash} read-only shows write controls`);
      for (const id of ['add-endpoint', 'edit-endpoint', 'delete-endpoint', 'rotate-secret', 'reveal-secret', 'ping-endpoint', 'disable-endpoint', 'resend', 'retry-all-failed-button', 'recover-submit', 'send-example']) {
        assert.equal(await rp.getByTestId(id).count(), 0, `${hash} read-only shows [data-testid=${id}]`);
      }
    }
    const roToken = ro.token;
    const refused: [string, string, unknown][] = [
      ['POST', '/api/v1/app/alpha/endpoint', { url: `${receiver.url}/ro` }],
      ['PATCH', `/api/v1/app/alpha/endpoint/${aEp}`, { description: 'changed' }],
      ['DELETE', `/api/v1/app/alpha/endpoint/${aEp}`, undefined],
      ['POST', `/api/v1/app/alpha/endpoint/${aEp}/secret/rotate`, {}],
      ['GET', `/api/v1/app/alpha/endpoint/${aEp}/secret`, undefined],
      ['POST', `/api/v1/app/alpha/msg/${aMsg}/endpoint/${aEp}/resend`, {}],
      ['POST', '/api/v1/app/alpha/retry-failed', {}],
      ['POST', `/api/v1/app/alpha/endpoint/${aEp}/send-example`, { eventType: MEAL }],
      ['POST', '/api/v1/app/alpha/msg', { eventType: MEAL, payload: {} }],
    ];
    for (const [method, path, body] of refused) {
      const res = await call(roToken, method, path, body);
      assert.equal(res.status, 403, `${method} ${path} with a read-only token: ${res.status} ${res.text}`);
    }
    assert.equal((await api('GET', `/api/v1/app/alpha/endpoint/${aEp}`)).description, 'Alpha kitchen', 'nothing changed');
    await close(roFlow);
  });

  it('6. markup in a payload and in a response body is shown as text and never runs', async () => {
    await app('Markup Meals', 'markup');
    await endpoint('markup', '/markup');
    const note = `${MARKUP_IMG}${MARKUP_SCRIPT}`;
    const msgId = await message('markup', { event_type: MEAL, data: { id: 'm-1', note } });
    await until('the attempt on record', async () => ((await api('GET', `/api/v1/app/markup/attempt/msg/${msgId}`)).data.length > 0 ? true : undefined));
    const { url } = await portalLink('markup');
    const flow = await open();
    const { page } = flow;
    await openPortal(page, url, 'Markup Meals');
    await page.goto(`${server.url}/portal#/messages/${msgId}`);
    await page.getByTestId('message-detail').waitFor();
    await refreshUntil(page, 'the attempt', async () => ((await page.getByTestId('attempt-row').count()) === 1 ? true : undefined));
    await page.getByTestId('attempt-row').locator('summary').click();

    const payload = (await page.getByTestId('message-payload').textContent()) ?? '';
    assert.ok(payload.includes(JSON.stringify(note).slice(1, -1)), `the payload shows the markup as text: ${payload}`);
    assert.equal((await page.getByTestId('attempt-response').textContent())?.trim(), MARKUP_RESPONSE);
    await page.getByText('<img src=x onerror=', { exact: false }).first().waitFor();
    const dom = await page.evaluate(() => ({
      xss: (window as unknown as { __xss?: unknown }).__xss,
      imgs: document.querySelectorAll('img[src="x"], img[onerror]').length,
      scripts: Array.from(document.querySelectorAll('script')).filter((s) => !s.src).length,
      svgs: document.querySelectorAll('svg[onload]').length,
      bold: document.getElementById('xss-response') !== null,
    }));
    assert.deepEqual(dom, { xss: undefined, imgs: 0, scripts: 0, svgs: 0, bold: false });
    await close(flow);
  });

  it('7. axe-core finds no serious or critical violation on any page', async (t) => {
    // An application with something on every page: a healthy and a failing endpoint, a
    // delivered message and a backfill.
    await api('POST', '/api/v1/app', { name: 'Axe Nutrition', uid: 'axe' });
    const epId = await endpoint('axe', '/axe', { description: 'Meal sync', filterTypes: [MEAL] });
    broken.add('/axe-down');
    await endpoint('axe', '/axe-down', { description: 'Staging' });
    const msgId = await message('axe', { event_type: MEAL, data: { id: 'axe-1', calories: 512 } });
    await until('the attempt on record', async () => ((await api('GET', `/api/v1/app/axe/attempt/msg/${msgId}`)).data.length > 0 ? true : undefined));
    const bf = await fetch(`${server.url}/api/v1/app/axe/backfill?userId=u-1&resource=meal&provider=cronometer&chunkSize=2`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
      body: ['{"id":"r-3","date":"2026-12-03","kcal":300}', '{"id":"r-2","date":"2026-12-02","kcal":200}', '{"id":"r-1","date":"2026-12-01","kcal":100}'].join('\n'),
    });
    const bfText = await bf.text();
    assert.ok(bf.status < 300, `backfill upload: ${bf.status} ${bfText}`);
    const backfillId = (JSON.parse(bfText) as { id: string }).id;
    const axeApp = await api('GET', '/api/v1/app/axe');

    // axe is evaluated through DevTools, which the page's CSP does not govern (an injected
    // <script> would be refused): the CSP stays on, and a violation would still be seen.
    const flow = await open();
    const { page } = flow;
    const failures: string[] = [];
    /** Moderate and minor violations: reported, not failed on. */
    const lesser: string[] = [];
    /** `expand` opens every <details> first (response bodies, the charts' tables), so that they are checked too. */
    const check = async (name: string, ready: Locator, expand = false) => {
      await ready.first().waitFor();
      await page.waitForLoadState('networkidle');
      if (expand) await page.evaluate(() => document.querySelectorAll('details').forEach((d) => (d.open = true)));
      if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
      const { passed, result } = await page.evaluate(async () => {
        type Rule = { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] };
        const axe = (window as unknown as { axe: { run: (c: Document, o: unknown) => Promise<{ violations: Rule[]; passes: Rule[] }> } }).axe;
        const r = await axe.run(document, { resultTypes: ['violations'] });
        return { passed: r.passes.length, result: r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) })) };
      });
      // A run that checked nothing would pass anything.
      assert.ok(passed >= 5, `axe checked ${passed} rules on ${name}`);
      for (const v of result) {
        const line = `${name}: ${v.id} (${v.impact}) ${v.help} at ${v.targets.slice(0, 5).join(', ')}`;
        if (v.impact === 'serious' || v.impact === 'critical') failures.push(line);
        else lesser.push(line);
      }
      checked.push(name);
    };
    const checked: string[] = [];
    const go = async (hash: string) => page.evaluate((h) => (location.hash = h), hash);

    await page.goto(`${server.url}/dashboard`);
    await check('dashboard sign-in', page.getByTestId('sign-in'));
    await signIn(page);
    await check('dashboard overview', page.getByTestId('chart-throughput'), true);
    await page.getByTestId('nav-apps').click();
    await check('dashboard applications', page.locator(`[data-testid="application-row"][data-app-id="${axeApp.id}"]`));
    await go(`#/apps/${axeApp.id}`);
    await check('dashboard application drill-in', page.getByTestId('app-page').getByTestId('endpoint-table'));
    await go(`#/apps/${axeApp.id}/messages`);
    await check('dashboard application messages', page.getByTestId('app-page').getByTestId('message-table'));
    await page.getByTestId('nav-event-types').click();
    await check('dashboard event types', page.locator(`[data-testid="event-type-row"][data-name="${MEAL}"]`));
    await page.locator(`[data-testid="event-type-row"][data-name="${MEAL}"]`).getByTestId('edit-event-type').click();
    await check('dashboard event type editor', page.getByTestId('event-type-editor'));

    const { url } = await portalLink('axe');
    await openPortal(page, url, 'Axe Nutrition');
    await check('portal endpoints', page.getByTestId('endpoint-table'));
    await go(`#/endpoints/${epId}`);
    await check('portal endpoint detail with charts', page.getByTestId('chart-outcomes'), true);
    await go('#/endpoints/new');
    await check('portal add-endpoint form', page.getByTestId('endpoint-form'));
    await go('#/messages');
    await check('portal message log', page.getByTestId('message-table'));
    await go(`#/messages/${msgId}`);
    await check('portal message detail', page.getByTestId('attempt-row'), true);
    await go('#/testing');
    await check('portal testing', page.getByTestId('testing'));
    await go('#/backfills');
    await check('portal backfills', page.getByTestId('backfill-row'));
    await go(`#/backfills/${backfillId}`);
    await check('portal backfill detail', page.getByTestId('backfill-detail'));
    // The dark theme has colours of its own.
    await page.goto(`${server.url}/portal?theme=dark#/endpoints/${epId}`);
    await check('portal endpoint detail, dark', page.getByTestId('chart-latency'), true);
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    await go(`#/messages/${msgId}`);
    await check('portal message detail, dark', page.getByTestId('attempt-row'), true);

    assert.equal(checked.length, 17);
    for (const line of lesser) t.diagnostic(`axe: ${line}`);
    assert.deepEqual(failures, [], `axe found serious or critical violations:\n${failures.join('\n')}`);
    await close(flow);
  });

  it("8. the portal works in a frame of the platform's site; other sites cannot frame it, nor anyone the dashboard", async () => {
    await app('Framed Foods', 'framed');
    await endpoint('framed', '/framed');
    const { url } = await portalLink('framed');
    hostPage = `<!doctype html><html lang="en"><title>Platform</title><h1>Your webhooks</h1><iframe id="portal" title="Webhooks" src="${url}" width="1200" height="700"></iframe><iframe id="dashboard" title="Dashboard" src="${server.url}/dashboard"></iframe></html>`;
    const flow = await open();
    const { page } = flow;
    const refusals = () => flow.problems.filter((p) => /frame-ancestors/.test(p));

    await page.goto(`${receiver.url}/host`);
    const framed = page.frameLocator('#portal');
    await textOf(framed.getByTestId('app-name'), 'Framed Foods', 'the framed portal');
    await textOf(framed.getByTestId('endpoint-row'), `${receiver.url}/framed`, 'the framed endpoint list');
    await framed.getByTestId('tab-messages').click();
    await framed.getByTestId('message-log').waitFor();
    // The dashboard frame is refused ('none').
    await until('the dashboard frame to be refused', () => (refusals().some((p) => p.includes("'none'")) ? true : undefined));
    assert.equal(await page.frameLocator('#dashboard').getByTestId('sign-in').count(), 0, 'the dashboard never renders in a frame');
    assert.equal(refusals().length, 1, refusals().join('\n'));

    // Another site gets no portal.
    await page.goto(`${elsewhere.url}/host`);
    await until('the portal frame to be refused elsewhere', () => (refusals().some((p) => p.includes(`frame-ancestors ${receiver.url}`)) ? true : undefined));
    assert.equal(await page.frameLocator('#portal').getByTestId('app-name').count(), 0, 'the portal does not render in a frame of another site');
    flow.problems.splice(0, flow.problems.length, ...flow.problems.filter((p) => !/frame-ancestors/.test(p)));
    await close(flow);
  });

  it('9. a revoked link: the open portal says so and asks for a new one', async () => {
    await app('Revoked Recipes', 'revoked');
    const epId = await endpoint('revoked', '/revoked');
    const { url } = await portalLink('revoked');
    const flow = await open();
    const { page } = flow;
    await openPortal(page, url, 'Revoked Recipes');
    await page.getByTestId('endpoint-row').waitFor();
    await api('POST', '/api/v1/auth/app/revoked/expire-all', {}, [200, 204]);
    await page.goto(`${server.url}/portal#/endpoints/${epId}`);
    await textOf(page.getByTestId('portal-error'), /expired or was revoked/, 'the revoked link');
    assert.equal(await page.getByTestId('endpoint-detail').count(), 0);
    await page.getByTestId('portal-key').waitFor();
    flow.problems.splice(0, flow.problems.length, ...flow.problems.filter((p) => !/status of 401/.test(p)));
    await close(flow);
  });
});

function pingOf(r: Received): unknown {
  try {
    return (JSON.parse(r.body.toString()) as { ping?: unknown }).ping;
  } catch {
    return undefined;
  }
}

function isPing(r: Received): boolean {
  return pingOf(r) !== undefined;
}
