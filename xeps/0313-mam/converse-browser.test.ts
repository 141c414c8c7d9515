// XEP-0313 from the web client: Converse.js at `/` in Debian's Chromium (playwright-core). Alice chats with Bob
// (an xmpp.js client) in her browser; then she opens the page again in a fresh browser context (no IndexedDB, no
// session storage: nothing cached), logs in, opens Bob's chat, and Converse shows the earlier conversation, which it
// can only have from the archive (its MAM query on opening the chat). The negative control runs the same with
// `[mam] default_prefs = "never"`: the archive answers the query empty and none of the earlier texts come back,
// while a message Bob sends after the reload shows in the same chat (issue #16, "Must show").
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { connect, type TestClient } from '../../test/support/clients.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const PASSWORD = 'correct horse battery staple';
const STEP_MS = 15_000;
const MAM_FIN = '<fin xmlns="urn:xmpp:mam:2"';

const presence = (from: string, type: string) => (s: Element) => s.is('presence') && s.attrs.type === type && s.attrs.from?.startsWith(from) === true;
const fromAlice = (body: string) => (s: Element): boolean => s.is('message') && s.attrs.from?.startsWith('alice@localhost/') === true && s.getChildText('body') === body;

/** RFC 6121 §3 through real streams: alice and bob subscribe to each other, so Bob is in Alice's roster in Converse. */
async function befriend(server: TestServer, bob: TestClient): Promise<void> {
  const alice = await connect(server, { transport: 'websocket', username: 'alice', password: PASSWORD, resource: 'setup' });
  try {
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
  } finally {
    await alice.stop();
  }
}

/** A page in a browser context of its own; `fins` counts the MAM <fin/> answers its WebSocket received. */
interface AlicePage {
  readonly context: BrowserContext;
  readonly page: Page;
  readonly fins: () => number;
  readonly pageErrors: string[];
}

async function openAsAlice(browser: Browser, origin: string): Promise<AlicePage> {
  const context = await browser.newContext();
  const page = await context.newPage();
  let fins = 0;
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('websocket', (socket) => {
    socket.on('framereceived', ({ payload }) => {
      if (String(payload).includes(MAM_FIN)) fins++;
    });
  });
  await page.goto(`${origin}/`);
  await page.locator('#converse-login-jid').fill('alice', { timeout: STEP_MS });
  await page.locator('#converse-login-password').fill(PASSWORD);
  await page.locator('#converse-login button[type=submit]').click();
  await page.locator('converse-roster a.open-chat[data-jid="bob@localhost"]').first().click({ timeout: STEP_MS });
  return { context, page, fins: () => fins, pageErrors };
}

const shown = (page: Page, text: string) => page.locator('converse-chat .chat-msg__text', { hasText: text });

async function until(condition: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + STEP_MS; !condition(); await new Promise((resolve) => setTimeout(resolve, 50))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

for (const archiving of ['always', 'never'] as const) {
  const title =
    archiving === 'always'
      ? 'after a reload with nothing cached, Converse shows the earlier conversation from the archive'
      : 'negative control, default_prefs "never": after the reload the earlier conversation is not there, a new message is';

  describe(`XEP-0313 from the web client (Converse.js on Chromium), default_prefs "${archiving}"`, function () {
    this.timeout(60_000);
    let server: TestServer;
    let browser: Browser | undefined;
    let bob: TestClient;
    const contexts: BrowserContext[] = [];

    before(async function () {
      if (!existsSync(CHROMIUM)) {
        if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
        console.warn(`\n  !!! SKIPPING the archive browser test: ${CHROMIUM} is missing. Install it with: apt-get install -y chromium\n`);
        this.skip();
      }
      server = await startTestServer({ mam: { defaultPrefs: archiving } });
      await server.addUser('alice', PASSWORD);
      await server.addUser('bob', PASSWORD);
      bob = await connect(server, { transport: 'websocket', username: 'bob', password: PASSWORD, resource: 'xmppjs' });
      await befriend(server, bob);
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      mkdirSync(ARTIFACTS, { recursive: true });
    });

    after(async function () {
      for (const context of contexts) await context.close().catch(() => undefined);
      await browser?.close();
      await bob?.stop();
      await server?.stop();
    });

    it(title, async function () {
      assert.ok(browser);
      const origin = `http://127.0.0.1:${server.ports.http}`;
      const tag = Date.now().toString(36);
      const earlier: string[] = [];

      // The conversation: Alice types in Converse, Bob answers from xmpp.js; each side sees the other's lines.
      const first = await openAsAlice(browser, origin);
      contexts.push(first.context);
      const textarea = first.page.locator('converse-chat textarea.chat-textarea');
      for (let n = 1; n <= 2; n++) {
        const mine = `Alice ${n} to Bob ${tag}`;
        const received = bob.next(fromAlice(mine), STEP_MS);
        await textarea.fill(mine, { timeout: STEP_MS });
        await textarea.press('Enter');
        await received;
        const answer = `Bob ${n} to Alice ${tag}`;
        await bob.xmpp.send(xml('message', { to: 'alice@localhost', type: 'chat' }, xml('body', {}, answer)));
        await shown(first.page, answer).waitFor({ timeout: STEP_MS });
        earlier.push(mine, answer);
      }
      await first.context.close();

      // The reload: a new context has no storage, so only the archive can bring the conversation back.
      const again = await openAsAlice(browser, origin);
      contexts.push(again.context);
      await until(() => again.fins() > 0, 'the answer to Converse\'s MAM query');
      if (archiving === 'always') {
        for (const text of earlier) await shown(again.page, text).waitFor({ timeout: STEP_MS });
        const texts = (await again.page.locator('converse-chat .chat-msg__text').allInnerTexts()).map((t) => t.trim());
        assert.deepEqual(texts, earlier, 'each once, in order');
        await again.page.screenshot({ path: join(ARTIFACTS, 'mam-converse-after-reload.png') });
      } else {
        const later = `Bob after the reload ${tag}`;
        await bob.xmpp.send(xml('message', { to: 'alice@localhost', type: 'chat' }, xml('body', {}, later)));
        await shown(again.page, later).waitFor({ timeout: STEP_MS });
        for (const text of earlier) assert.equal(await shown(again.page, text).count(), 0, `"${text}" is not in the chat`);
      }
      assert.deepEqual([...first.pageErrors, ...again.pageErrors], []);
    });
  });
}
