// The [upload] table and the pure pieces of slots: defaults derived from the server's configuration (the public
// URL behind a TLS-ending proxy), bad values named by key, file names and media types, signed URLs.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadConfig, type LoadConfigOptions } from '../../src/config/index.js';
import { MODULE_CONFIGS } from '../../src/main.js';
import { cleanFilename, normaliseContentType } from './request.js';
import { uploadConfig, type UploadSettings } from './settings.js';
import { signedQuery, verifySlot, type Slot } from './slots.js';

function settings(overrides: NonNullable<LoadConfigOptions['overrides']> = {}, env: Record<string, string> = {}): UploadSettings {
  const config = loadConfig({ file: false, env, overrides: { domain: 'example.org', dataDir: '/srv/x', ...overrides }, modules: MODULE_CONFIGS });
  const parsed = uploadConfig.parse(config.sections?.upload, config);
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed.settings;
}

describe('XEP-0363 [upload] settings', function () {
  it('defaults: upload.<domain>, 10 MiB, no quota, 30 days, <data_dir>/upload, URL from the HTTP port', function () {
    const s = settings();
    assert.equal(s.domain, 'upload.example.org');
    assert.equal(s.maxFileSize, 10 * 1024 * 1024);
    assert.equal(s.quotaPerUser, 0);
    assert.equal(s.expireDays, 30);
    assert.equal(s.directory, join('/srv/x', 'upload'));
    assert.equal(s.publicUrl, undefined);
    assert.equal(s.publicHost, 'example.org');
  });

  it('behind the shipped proxy the URL follows http.public_websocket_url (https, same host and port)', function () {
    assert.equal(settings({ http: { publicWebsocketUrl: 'wss://chat.example.org:5443/xmpp-websocket' } }).publicUrl, 'https://chat.example.org:5443/upload/');
    assert.equal(settings({ http: { publicBoshUrl: 'https://chat.example.org/http-bind' } }).publicUrl, 'https://chat.example.org/upload/');
    assert.equal(settings({ upload: { publicUrl: 'https://files.example.org/u' } }).publicUrl, 'https://files.example.org/u/');
    assert.equal(settings({}, { RATATOSK_UPLOAD_PUBLIC_URL: 'https://up.example.org/upload/' }).publicUrl, 'https://up.example.org/upload/');
  });

  it('bad values name the key', function () {
    const load = (upload: Record<string, unknown>): unknown => loadConfig({ file: false, env: {}, overrides: { upload }, modules: MODULE_CONFIGS });
    assert.throws(() => load({ publicUrl: 'ftp://x/' }), /upload\.public_url/);
    assert.throws(() => load({ maxFileSize: 0 }), /upload\.max_file_size/);
    assert.throws(() => load({ secret: 'short' }), /upload\.secret/);
    assert.throws(() => load({ maxFileSize: 1000, quotaPerUser: 10 }), /upload\.quota_per_user: must be 0 \(no quota\) or at least max_file_size/);
  });
});

describe('XEP-0363 slot pieces', function () {
  it('file names keep their extension and lose paths and control characters', function () {
    assert.equal(cleanFilename('../../etc/passwd'), 'passwd');
    assert.equal(cleanFilename('C:\\photos\\me.jpg'), 'me.jpg');
    assert.equal(cleanFilename('a\u0000b\nc.txt'), 'abc.txt');
    assert.equal(cleanFilename('..'), undefined);
    const long = cleanFilename(`${'x'.repeat(500)}.jpeg`) ?? '';
    assert.equal(long.length, 200);
    assert.ok(long.endsWith('.jpeg'));
  });

  it('media types: one spelling, or undefined', function () {
    assert.equal(normaliseContentType('Image/PNG'), 'image/png');
    assert.equal(normaliseContentType('text/plain; Charset=utf-8'), 'text/plain;charset=utf-8');
    assert.equal(normaliseContentType('not a type'), undefined);
    assert.equal(normaliseContentType('text/plain\r\nX-Evil: 1'), undefined);
  });

  it('a signed URL is checked field by field', function () {
    const secret = Buffer.alloc(32, 7);
    const slot: Slot = { id: 'AAAAAAAAAAAAAAAAAAAAAA', filename: 'a.txt', size: 5, contentType: 'text/plain', expires: 2_000, owner: 'o' };
    const query = new URLSearchParams(signedQuery(secret, slot));
    assert.deepEqual(verifySlot(secret, slot.id, 'a.txt', query, 1_000), { ok: true, slot });
    assert.equal(verifySlot(secret, slot.id, 'b.txt', query, 1_000).ok, false, 'another file name');
    assert.equal(verifySlot(Buffer.alloc(32, 8), slot.id, 'a.txt', query, 1_000).ok, false, 'another secret');
    assert.match(JSON.stringify(verifySlot(secret, slot.id, 'a.txt', query, 3_000)), /expired/);
    const typeless = new URLSearchParams(query);
    typeless.delete('type');
    assert.equal(verifySlot(secret, slot.id, 'a.txt', typeless, 1_000).ok, false, 'type removed');
  });
});
