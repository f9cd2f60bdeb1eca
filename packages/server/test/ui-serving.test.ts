import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../src/config.js';
import { UI_DIR } from '../src/api/ui.js';
import { request, startServer, type TestServer } from './helpers.js';

// The UI is built by `npm run build` (vite); these tests read what it produced.

function directives(csp: string | null): Map<string, string> {
  assert.ok(csp !== null, 'a content-security-policy header');
  return new Map(
    csp
      .split(';')
      .map((d) => d.trim())
      .filter((d) => d !== '')
      .map((d) => {
        const [name, ...rest] = d.split(/\s+/);
        return [name!, rest.join(' ')] as const;
      }),
  );
}

describe('the web UI', () => {
  let server: TestServer;
  before(async () => {
    assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm run build)');
    server = await startServer();
  });
  after(async () => server.stop());

  it('serves the portal and the dashboard without a token, under a CSP without inline script', async () => {
    for (const path of ['/portal', '/dashboard', '/portal/', '/dashboard/']) {
      const res = await request(server.url + path, 'GET', {});
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/, path);
      assert.equal(res.headers.get('cache-control'), 'no-cache', path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer', path);
      const csp = directives(res.headers.get('content-security-policy'));
      assert.equal(csp.get('script-src'), "'self'", path);
      assert.equal(csp.get('style-src'), "'self'", path);
      assert.equal(csp.get('default-src'), "'self'", path);
      assert.equal(csp.get('connect-src'), "'self'", path);
      assert.equal(csp.get('object-src'), "'none'", path);
      assert.equal(csp.get('base-uri'), "'none'", path);
      assert.equal(csp.get('frame-ancestors'), path.startsWith('/portal') ? "'self'" : "'none'", path);
      assert.match(res.text, /<div id="root"><\/div>/, path);
    }
  });

  it('redirects / to the dashboard', async () => {
    const res = await fetch(server.url + '/', { redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/dashboard');
  });

  it('has no inline script, and every script and style it names is served with a long cache', async () => {
    const html = (await request(server.url + '/portal', 'GET', {})).text;
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.ok(scripts.length >= 1, 'index.html loads a script');
    for (const [, attrs, body] of scripts) {
      assert.match(attrs!, /\bsrc="\/ui\/assets\/[^"]+\.js"/, 'every script is a file under /ui/assets/');
      assert.equal(body!.trim(), '', 'no script has inline code');
    }
    assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handler');
    assert.doesNotMatch(html, /<style\b/i, 'no inline style element');
    assert.doesNotMatch(html, /\sstyle=/i, 'no style attribute');
    assert.doesNotMatch(html, /https?:\/\//, 'nothing from another origin');
    const refs = [...html.matchAll(/(?:src|href)="(\/ui\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.some((r) => r.endsWith('.css')), 'a stylesheet');
    for (const ref of refs) {
      const res = await fetch(server.url + ref);
      assert.equal(res.status, 200, ref);
      assert.match(res.headers.get('cache-control') ?? '', /immutable/, ref);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', ref);
      assert.match(res.headers.get('content-type') ?? '', ref.endsWith('.js') ? /javascript/ : /text\/css/, ref);
      assert.ok((await res.text()).length > 0, ref);
    }
  });

  it('loads at most 200 kB of gzipped JavaScript at first', async () => {
    const html = (await request(server.url + '/dashboard', 'GET', {})).text;
    const scripts = [...html.matchAll(/<script\b[^>]*\bsrc="(\/ui\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    let total = 0;
    for (const src of scripts) total += gzipSync(Buffer.from(await (await fetch(server.url + src)).arrayBuffer())).length;
    assert.ok(total > 0 && total <= 200 * 1024, `initial JavaScript is ${total} bytes gzipped`);
  });

  it('answers 404 for an asset that does not exist, and keeps the API behind its token', async () => {
    assert.equal((await request(server.url + '/ui/assets/nothing-here.js', 'GET', {})).status, 404);
    assert.equal((await request(server.url + '/api/v1/app', 'GET', {})).status, 401);
  });
});

describe("the UI's sources", () => {
  it('never write HTML: payloads, headers and bodies are rendered as text by Preact', () => {
    const root = new URL('../ui/src/', import.meta.url).pathname;
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (/\.tsx?$/.test(name)) files.push(path);
      }
    };
    walk(root);
    assert.ok(files.length > 5, 'the sources are found');
    for (const f of files) {
      assert.doesNotMatch(readFileSync(f, 'utf8'), /dangerouslySetInnerHTML|innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/, f);
    }
  });
});

describe('HOOKWELL_PORTAL_FRAME_ANCESTORS', () => {
  it('sets the portal frame-ancestors, and never the dashboard one', async () => {
    const server = await startServer({ HOOKWELL_PORTAL_FRAME_ANCESTORS: "'self'  https://app.example.com https://*.example.org:8443" });
    try {
      const portal = await request(server.url + '/portal', 'GET', {});
      assert.equal(directives(portal.headers.get('content-security-policy')).get('frame-ancestors'), "'self' https://app.example.com https://*.example.org:8443");
      const dashboard = await request(server.url + '/dashboard', 'GET', {});
      assert.equal(directives(dashboard.headers.get('content-security-policy')).get('frame-ancestors'), "'none'");
    } finally {
      await server.stop();
    }
  });

  it("defaults to 'self' and takes 'none' or a scheme", () => {
    assert.equal(loadConfig({}, {}).portalFrameAncestors, "'self'");
    assert.equal(loadConfig({}, { HOOKWELL_PORTAL_FRAME_ANCESTORS: "'none'" }).portalFrameAncestors, "'none'");
    assert.equal(loadConfig({}, { HOOKWELL_PORTAL_FRAME_ANCESTORS: 'https:' }).portalFrameAncestors, 'https:');
  });

  it('refuses values that are not CSP sources, naming the setting and the source', () => {
    for (const bad of [
      "https://a.example.com; script-src 'unsafe-inline'",
      'https://a.example.com,https://b.example.com',
      "'unsafe-inline'",
      "'none' https://a.example.com",
      'https://a.example.com\r\nx-evil: 1',
      '"https://a.example.com"',
      '   ',
    ]) {
      assert.throws(
        () => loadConfig({}, { HOOKWELL_PORTAL_FRAME_ANCESTORS: bad }),
        (err: unknown) => err instanceof ConfigError && err.message.startsWith('HOOKWELL_PORTAL_FRAME_ANCESTORS'),
        JSON.stringify(bad),
      );
    }
    assert.throws(() => loadConfig({}, { HOOKWELL_PORTAL_FRAME_ANCESTORS: 'https://a.example.com;' }), /"https:\/\/a\.example\.com;" is not a CSP source/);
  });
});
