// XEP-0363 from the web client: Converse.js at `/` in Debian's Chromium (playwright-core) finds the upload
// service, and Alice sends Bob a picture through its paperclip button. Converse asks for a slot, PUTs the file
// to this server and sends the GET URL; Bob (an xmpp.js client) receives it and downloads the same bytes.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { chromium, type Browser } from 'playwright-core';
import { connect, type TestClient } from '../../test/support/clients.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const PASSWORD = 'correct horse battery staple';
const STEP_MS = 15_000;
/** A 1x1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

const presence = (from: string, type: string) => (s: Element) => s.is('presence') && s.attrs.type === type && s.attrs.from?.startsWith(from) === true;

describe('XEP-0363 from the web client (Converse.js on Chromium)', function () {
  this.timeout(60_000);
  let server: TestServer;
  let browser: Browser | undefined;
  let bob: TestClient;

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
      console.warn(`\n  !!! SKIPPING the upload browser test: ${CHROMIUM} is missing. Install it with: apt-get install -y chromium\n`);
      this.skip();
    }
    server = await startTestServer({ publicHost: '127.0.0.1' });
    await server.addUser('alice', PASSWORD);
    await server.addUser('bob', PASSWORD);
    // RFC 6121 §3: mutual subscription, so that Bob is in Alice's roster in Converse.
    const alice = await connect(server, { transport: 'websocket', username: 'alice', password: PASSWORD, resource: 'setup' });
    bob = await connect(server, { transport: 'websocket', username: 'bob', password: PASSWORD, resource: 'xmppjs' });
    for (const c of [alice, bob]) {
      await c.xmpp.iqCaller.get(xml('query', { xmlns: 'jabber:iq:roster' }));
      await c.xmpp.send(xml('presence'));
    }
    await alice.xmpp.send(xml('presence', { to: 'bob@localhost', type: 'subscribe' }));
    await bob.next(presence('alice@localhost', 'subscribe'));
    await bob.xmpp.send(xml('presence', { to: 'alice@localhost', type: 'subscribed' }));
    await bob.xmpp.send(xml('presence', { to: 'alice@localhost', type: 'subscribe' }));
    await alice.next(presence('bob@localhost', 'subscribe'));
    await alice.xmpp.send(xml('presence', { to: 'bob@localhost', type: 'subscribed' }));
    const deadline = Date.now() + 5000;
    while ((await server.server.stores.roster.getItem('alice', 'bob@localhost'))?.subscription !== 'both') {
      if (Date.now() > deadline) throw new Error('alice and bob did not become mutually subscribed');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await alice.stop();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  after(async function () {
    await browser?.close();
    await bob?.stop();
    await server?.stop();
  });

  it('Alice uploads a picture from Converse; Bob gets its URL and downloads the same bytes', async function () {
    assert.ok(browser);
    const origin = `http://127.0.0.1:${server.ports.http}`;
    const context = await browser.newContext();
    const page = await context.newPage();
    const uploads: string[] = [];
    const pageErrors: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'PUT') uploads.push(request.url());
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    try {
      await page.goto(`${origin}/`);
      await page.locator('#converse-login-jid').fill('alice', { timeout: STEP_MS });
      await page.locator('#converse-login-password').fill(PASSWORD);
      await page.locator('#converse-login button[type=submit]').click();
      await page.locator('converse-roster a.open-chat[data-jid="bob@localhost"]').first().click({ timeout: STEP_MS });

      // The paperclip appears only once Converse found a service with urn:xmpp:http:upload:0 (disco#items, disco#info).
      const input = page.locator('converse-chat input.fileupload');
      await input.waitFor({ state: 'attached', timeout: STEP_MS });
      const received = bob.next((s) => s.is('message') && s.attrs.from?.startsWith('alice@localhost') === true && s.getChildText('body') !== null, STEP_MS);
      await input.setInputFiles({ name: 'pixel.png', mimeType: 'image/png', buffer: PNG });

      const message = await received;
      const url = message.getChildText('body') ?? '';
      assert.match(url, new RegExp(`^${origin}/upload/[A-Za-z0-9_-]{22}/pixel\\.png$`));
      assert.equal(message.getChild('x', 'jabber:x:oob')?.getChildText('url'), url);
      assert.equal(uploads.length, 1, 'one PUT');
      assert.ok(uploads[0]?.startsWith(`${url}?`));

      const got = await fetch(url);
      assert.equal(got.status, 200);
      assert.equal(got.headers.get('content-type'), 'image/png');
      assert.deepEqual(Buffer.from(await got.arrayBuffer()), PNG);
      // Alice's own chat shows the picture from the GET URL.
      await page.locator(`converse-chat img.chat-image[src="${url}"]`).first().waitFor({ timeout: STEP_MS });
      await page.screenshot({ path: join(ARTIFACTS, 'upload-sender.png') });
      assert.deepEqual(pageErrors, []);
    } finally {
      await context.close();
    }
  });
});
