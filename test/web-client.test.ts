// End to end in a real browser: the web client at `/` (Converse.js) in Debian's Chromium, driven by
// playwright-core. Alice and Bob, mutually subscribed through the IM module, log in from two browser
// contexts; Alice sends from her chat box and Bob's browser shows it. Once over WebSocket (RFC 7395)
// and once with /?transport=bosh (XEP-0206). The page must load nothing from other hosts, and the
// receiving browser's screenshot is kept in test-artifacts/.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { connect, type TestClient } from './support/clients.js';
import { startTestServer, type TestServer } from './support/server.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const PASSWORD = 'correct horse battery staple';
/** Converse's login, roster and chat flow normally takes a few seconds; this bounds each wait. */
const STEP_MS = 15_000;

const isPresence = (from: string, type: string) => (s: Element) => s.is('presence') && s.attrs.type === type && s.attrs.from?.startsWith(from) === true;

/** RFC 6121 §3: a subscribes to b and b approves, then the other way round, over real client streams. */
async function befriendThroughIm(server: TestServer, a: string, b: string): Promise<void> {
  const clients: TestClient[] = [];
  try {
    for (const username of [a, b]) {
      const client = await connect(server, { transport: 'websocket', username, password: PASSWORD, resource: 'setup' });
      clients.push(client);
      await client.xmpp.iqCaller.get(xml('query', { xmlns: 'jabber:iq:roster' }));
      await client.xmpp.send(xml('presence'));
    }
    const [ca, cb] = clients as [TestClient, TestClient];
    const ja = `${a}@${server.domain}`;
    const jb = `${b}@${server.domain}`;
    await ca.xmpp.send(xml('presence', { to: jb, type: 'subscribe' }));
    await cb.next(isPresence(ja, 'subscribe'));
    await cb.xmpp.send(xml('presence', { to: ja, type: 'subscribed' }));
    await cb.xmpp.send(xml('presence', { to: ja, type: 'subscribe' }));
    await ca.next(isPresence(jb, 'subscribe'));
    await ca.xmpp.send(xml('presence', { to: jb, type: 'subscribed' }));
    for (const [owner, contact] of [[a, jb], [b, ja]] as const) {
      const deadline = Date.now() + 5000;
      while ((await server.server.stores.roster.getItem(owner, contact))?.subscription !== 'both') {
        if (Date.now() > deadline) throw new Error(`${owner} and ${contact} did not become mutually subscribed`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } finally {
    for (const client of clients) await client.stop();
  }
}

/** What one browser context did that the test checks afterwards. */
interface Watch {
  offOrigin: string[];
  policyViolations: string[];
  pageErrors: string[];
  websockets: string[];
  boshRequests: number;
}

async function openContext(browser: Browser, origin: string): Promise<{ context: BrowserContext; page: Page; watch: Watch }> {
  const context = await browser.newContext();
  const watch: Watch = { offOrigin: [], policyViolations: [], pageErrors: [], websockets: [], boshRequests: 0 };
  const host = new URL(origin).host;
  // Offline by construction: anything for another host is refused, and noted.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (/^(data|blob):/.test(url) || new URL(url).host === host) return route.continue();
    watch.offOrigin.push(url);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) watch.policyViolations.push(message.text());
  });
  page.on('pageerror', (error) => watch.pageErrors.push(error.message));
  page.on('websocket', (socket) => watch.websockets.push(socket.url()));
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/http-bind') watch.boshRequests++;
  });
  return { context, page, watch };
}

async function logIn(page: Page, url: string, username: string): Promise<void> {
  await page.goto(url);
  await page.locator('#converse-login-jid').fill(username, { timeout: STEP_MS });
  await page.locator('#converse-login-password').fill(PASSWORD);
  await page.locator('#converse-login button[type=submit]').click();
}

/** The contact's entry in the roster (Converse may list it twice: under "New messages" and its group). */
const rosterEntry = (page: Page, jid: string) => page.locator(`converse-roster a.open-chat[data-jid="${jid}"]`).first();

describe('web client in a browser (Converse.js on Chromium)', function () {
  this.timeout(60_000);
  let server: TestServer;
  let browser: Browser;
  let origin: string;
  const contexts: BrowserContext[] = [];

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium package (apt-get install -y chromium)`);
      console.warn(`\n  !!! SKIPPING the browser tests of the web client: ${CHROMIUM} is missing. Install it with: apt-get install -y chromium\n`);
      this.skip();
    }
    server = await startTestServer();
    await server.addUser('alice', PASSWORD);
    await server.addUser('bob', PASSWORD);
    await befriendThroughIm(server, 'alice', 'bob');
    origin = `http://127.0.0.1:${server.ports.http}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterEach(async function () {
    for (const context of contexts.splice(0)) await context.close().catch(() => undefined);
  });

  after(async function () {
    await browser?.close();
    await server?.stop();
  });

  for (const transport of ['websocket', 'bosh'] as const) {
    it(`Alice's message reaches Bob's browser over ${transport === 'websocket' ? 'WebSocket' : 'BOSH (/?transport=bosh)'}`, async function () {
      const url = transport === 'bosh' ? `${origin}/?transport=bosh` : `${origin}/`;
      const alice = await openContext(browser, origin);
      const bob = await openContext(browser, origin);
      contexts.push(alice.context, bob.context);

      await Promise.all([logIn(alice.page, url, 'alice'), logIn(bob.page, url, 'bob')]);
      // Logged in once each sees the other in the roster, online.
      await rosterEntry(alice.page, 'bob@localhost').waitFor({ timeout: STEP_MS });
      await rosterEntry(bob.page, 'alice@localhost').waitFor({ timeout: STEP_MS });
      await alice.page.locator('converse-roster li.online a.open-chat[data-jid="bob@localhost"]').first().waitFor({ timeout: STEP_MS });

      const text = `Hello Bob, over ${transport}, ${Date.now().toString(36)}`;
      await rosterEntry(alice.page, 'bob@localhost').click();
      const textarea = alice.page.locator('converse-chat textarea.chat-textarea');
      await textarea.fill(text, { timeout: STEP_MS });
      await textarea.press('Enter');

      // Bob's roster marks the unread message; opening the chat shows it.
      await bob.page.locator('converse-roster a.open-chat[data-jid="alice@localhost"] .msgs-indicator').first().waitFor({ timeout: STEP_MS });
      await rosterEntry(bob.page, 'alice@localhost').click();
      const received = bob.page.locator('converse-chat .chat-msg__text', { hasText: text });
      await received.waitFor({ timeout: STEP_MS });
      await bob.page.screenshot({ path: join(ARTIFACTS, `web-client-${transport}-receiver.png`) });

      for (const [who, watch] of [['alice', alice.watch], ['bob', bob.watch]] as const) {
        assert.deepEqual(watch.offOrigin, [], `${who}'s page asked other hosts for something`);
        assert.deepEqual(watch.policyViolations, [], `${who}'s page broke its Content-Security-Policy`);
        assert.deepEqual(watch.pageErrors, [], `${who}'s page threw`);
        if (transport === 'websocket') {
          assert.deepEqual(watch.websockets, [`ws://127.0.0.1:${server.ports.http}/xmpp-websocket`], `${who} connected over one WebSocket`);
          assert.equal(watch.boshRequests, 0, `${who} made no BOSH request`);
        } else {
          assert.deepEqual(watch.websockets, [], `${who} opened no WebSocket`);
          assert.ok(watch.boshRequests >= 2, `${who} spoke BOSH (${watch.boshRequests} requests)`);
        }
      }
    });
  }
});
