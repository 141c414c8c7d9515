import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerError } from '../errors.js';
import { loadConfig, type LoadConfigOptions } from './index.js';
import { knownKeys } from './schema.js';
import { MODULE_CONFIGS } from '../main.js';

describe('loadConfig', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ratatosk-config-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Loads with an empty environment from the temp dir unless told otherwise. */
  function load(options: LoadConfigOptions = {}) {
    return loadConfig({ env: {}, cwd: dir, ...options });
  }

  function writeToml(text: string, name = 'ratatosk.toml'): string {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  }

  function rejects(fn: () => unknown, code: string, ...fragments: string[]): string {
    try {
      fn();
    } catch (err) {
      assert.ok(err instanceof ServerError, `expected a ServerError, got ${String(err)}`);
      assert.equal(err.code, code, err.message);
      for (const fragment of fragments) assert.ok(err.message.includes(fragment), `"${err.message}" should mention ${fragment}`);
      return err.message;
    }
    assert.fail(`expected ${code}`);
  }

  describe('defaults', () => {
    it('fills every setting when there is no file and no environment', () => {
      assert.deepEqual(load(), {
        domain: 'localhost',
        dataDir: './data',
        nodeId: hostname(),
        logLevel: 'info',
        admins: [],
        c2s: {
          host: '::',
          port: 5222,
          tlsPort: 5223,
          requireTls: true,
          sasl2: true,
          maxStanzaSize: 262144,
          preAuthMaxStanzaSize: 10240,
          maxDepth: 64,
          authTimeout: 30,
          pingInterval: 300,
          pingTimeout: 60,
          tcpKeepalive: 60,
          proxyProtocolFrom: [],
        },
        http: { host: '::', port: 5280, trustedProxies: ['127.0.0.0/8', '::1'], proxyProtocolFrom: [], maxWebsocketFrame: 262144 + 4096, maxBoshBody: 262144 + 8192, boshInactivity: 60, corsOrigins: ['*'] },
        admin: { host: '127.0.0.1', port: 5281 },
        tls: {},
        database: {},
        redis: { sentinels: [], cluster: [] },
        auth: {
          scramIterations: 4096, scramHashes: ['sha1', 'sha256', 'sha512'], failuresBeforeDelay: 3, maxFailureDelayMs: 5000, addressFailuresBeforeDelay: 20, failureWindowSeconds: 900,
          lockoutFailures: 10, lockoutSeconds: 900, trustedLoginSeconds: 604800, maxTracked: 100000,
        },
        limits: {
          maxConnectionsPerAddress: 100, maxPreAuthPerAddress: 20, readRatePreAuth: 10240, readBurstPreAuth: 32768, readRate: 102400,
          readBurst: 1048576, stanzaRate: 100, stanzaBurst: 200, maxBacklogBytes: 1048576, maxOutputBytes: 4194304,
        },
        metrics: { allow: ['127.0.0.0/8', '::1'], eventLoopSampleMs: 100 },
        memory: { favourWhenIdle: true },
      });
    });

    it('derives the WebSocket frame cap from the stanza cap unless set', () => {
      assert.equal(load({ overrides: { c2s: { maxStanzaSize: 1 << 20 } } }).http.maxWebsocketFrame, (1 << 20) + 4096);
      assert.equal(load({ overrides: { c2s: { maxStanzaSize: 1 << 20 }, http: { maxWebsocketFrame: 8192 } } }).http.maxWebsocketFrame, 8192);
    });

    it('derives the BOSH body cap from the stanza cap unless set, and checks CORS origins', () => {
      assert.equal(load({ overrides: { c2s: { maxStanzaSize: 1 << 20 } } }).http.maxBoshBody, (1 << 20) + 8192);
      assert.equal(load({ overrides: { http: { maxBoshBody: 4096 } } }).http.maxBoshBody, 4096);
      assert.deepEqual(load({ overrides: { http: { corsOrigins: ['https://chat.example.org', 'http://localhost:8080'] } } }).http.corsOrigins, ['https://chat.example.org', 'http://localhost:8080']);
      assert.throws(() => load({ overrides: { http: { corsOrigins: ['https://chat.example.org/path'] } } }), /http\.cors_origins/);
    });

    it('ratatosk.example.toml loads to the defaults and documents every key', () => {
      const example = join(process.cwd(), 'ratatosk.example.toml');
      // The modules' tables ([muc], ...) are in the example too: loaded with their schemas, each key documented.
      const fromExample = load({ file: example, modules: MODULE_CONFIGS });
      const defaults = load({ modules: MODULE_CONFIGS });
      assert.deepEqual({ ...fromExample, sections: {} }, { ...defaults, sections: {} });
      for (const m of MODULE_CONFIGS) assert.deepEqual(m.parse(fromExample.sections?.[m.section], fromExample), m.parse(defaults.sections?.[m.section], defaults), `[${m.section}]`);
      const text = readFileSync(example, 'utf8');
      let section = '';
      const documented = new Set<string>();
      for (const line of text.split('\n')) {
        const header = /^\[(\w+)\]/.exec(line);
        if (header?.[1]) section = header[1];
        const key = /^#\s*(\w+) =/.exec(line);
        if (key?.[1]) documented.add(section ? `${section}.${key[1]}` : key[1]);
      }
      for (const table of ['', 'c2s', 'http', 'admin', 'tls', 'database', 'redis', 'auth', 'limits', 'metrics', 'memory']) {
        for (const key of knownKeys(table)) {
          if (['c2s', 'http', 'admin', 'tls', 'database', 'redis', 'auth', 'limits', 'metrics', 'memory'].includes(key) && table === '') continue;
          const full = table ? `${table}.${key}` : key;
          assert.ok(documented.has(full), `${full} is not documented in ratatosk.example.toml`);
        }
      }
      assert.ok(MODULE_CONFIGS.some((m) => m.section === 'muc'), 'the module tables are checked too');
      for (const m of MODULE_CONFIGS) {
        for (const key of m.keys) assert.ok(documented.has(`${m.section}.${key}`), `${m.section}.${key} is not documented in ratatosk.example.toml`);
        for (const key of Object.keys(m.topLevel)) assert.match(text, new RegExp(`^# \\[\\[${key}\\]\\]$`, 'm'), `[[${key}]] is not shown in ratatosk.example.toml`);
        for (const name of Object.keys(m.env)) assert.ok(text.includes(name), `${name} is not named in ratatosk.example.toml`);
      }
      assert.ok(MODULE_CONFIGS.some((m) => Object.keys(m.topLevel).length > 0 && Object.keys(m.env).length > 0), 'top-level keys and variables of modules are checked too');
    });
  });

  describe('file', () => {
    it('reads snake_case keys into the camelCase config', () => {
      const file = writeToml(`
        domain = "Example.ORG"
        data_dir = "/var/lib/ratatosk"
        node_id = "node-1"
        log_level = "debug"
        admins = ["Admin@Example.org"]

        [c2s]
        host = "127.0.0.1"
        port = 15222
        tls_port = -1
        require_tls = false
        max_stanza_size = 65536
        pre_auth_max_stanza_size = 4096
        ping_interval = 120

        [http]
        port = 0
        trusted_proxies = ["10.0.0.0/8", "::1"]

        [tls]
        cert = "/etc/cert.pem"
        key = "/etc/key.pem"

        [database]
        url = "postgres://u:p@db:5432/x"

        [redis]
        sentinels = ["s1:26379", "[::1]:26380"]
        sentinel_name = "mymaster"

        [registration]
        allow = true

        [auth]
        scram_iterations = 10000
      `);
      const config = load({ file, modules: MODULE_CONFIGS });
      assert.equal(config.domain, 'example.org');
      assert.equal(config.dataDir, '/var/lib/ratatosk');
      assert.equal(config.nodeId, 'node-1');
      assert.equal(config.logLevel, 'debug');
      assert.deepEqual(config.admins, ['admin@example.org']);
      assert.deepEqual(
        [config.c2s.host, config.c2s.port, config.c2s.tlsPort, config.c2s.requireTls, config.c2s.maxStanzaSize, config.c2s.preAuthMaxStanzaSize, config.c2s.pingInterval],
        ['127.0.0.1', 15222, -1, false, 65536, 4096, 120],
      );
      assert.equal(config.c2s.maxDepth, 64, 'unset keys in a table keep their defaults');
      assert.deepEqual(config.http, { host: '::', port: 0, trustedProxies: ['10.0.0.0/8', '::1'], proxyProtocolFrom: [], maxWebsocketFrame: 65536 + 4096, maxBoshBody: 65536 + 8192, boshInactivity: 60, corsOrigins: ['*'] });
      assert.deepEqual(config.tls, { cert: '/etc/cert.pem', key: '/etc/key.pem' });
      assert.deepEqual(config.database, { url: 'postgres://u:p@db:5432/x' });
      assert.deepEqual(config.redis, { sentinels: ['s1:26379', '[::1]:26380'], sentinelName: 'mymaster', cluster: [] });
      assert.equal(JSON.stringify(config.sections?.registration), '{"allow":true}', 'a module table is kept as given, for its module');
      assert.equal(config.auth.scramIterations, 10000);
    });

    it('finds ./ratatosk.toml in the working directory', () => {
      writeToml('domain = "found.example"');
      assert.equal(load().domain, 'found.example');
      assert.equal(load({ file: false }).domain, 'localhost', 'file: false reads no file');
    });

    it('takes the file from RATATOSK_CONFIG, relative to the working directory', () => {
      writeToml('domain = "other.example"', 'other.toml');
      assert.equal(load({ env: { RATATOSK_CONFIG: 'other.toml' } }).domain, 'other.example');
    });

    it('prefers the file option over RATATOSK_CONFIG', () => {
      writeToml('domain = "a.example"', 'a.toml');
      writeToml('domain = "b.example"', 'b.toml');
      assert.equal(load({ file: 'a.toml', env: { RATATOSK_CONFIG: 'b.toml' } }).domain, 'a.example');
    });
  });

  describe('environment', () => {
    it('overrides the file, and overrides win over both', () => {
      const file = writeToml('domain = "file.example"\n[c2s]\nport = 1000\ntls_port = 1001\n');
      const config = load({ file, env: { RATATOSK_C2S_PORT: '2000', RATATOSK_DOMAIN: 'env.example' }, overrides: { c2s: { port: 3000 } } });
      assert.equal(config.c2s.port, 3000);
      assert.equal(config.c2s.tlsPort, 1001);
      assert.equal(config.domain, 'env.example');
    });

    it('maps every variable to its key', () => {
      const config = load({
        env: {
          RATATOSK_DOMAIN: 'env.example',
          RATATOSK_DATA_DIR: '/data',
          RATATOSK_NODE_ID: 'n2',
          RATATOSK_LOG_LEVEL: 'warn',
          RATATOSK_ADMINS: 'a@env.example, b@env.example',
          RATATOSK_C2S_HOST: '0.0.0.0',
          RATATOSK_C2S_PORT: '0',
          RATATOSK_C2S_TLS_PORT: '-1',
          RATATOSK_HTTP_HOST: '127.0.0.1',
          RATATOSK_HTTP_PORT: '8080',
          RATATOSK_REQUIRE_TLS: 'no',
          RATATOSK_TLS_CERT: 'c.pem',
          RATATOSK_TLS_KEY: 'k.pem',
          RATATOSK_DATABASE_URL: 'postgresql://localhost/r',
          RATATOSK_REDIS_CLUSTER: 'r1:6379,r2:6379',
          RATATOSK_ALLOW_REGISTRATION: 'YES',
          RATATOSK_TRUSTED_PROXIES: '192.168.0.0/16',
          RATATOSK_MEMORY_FAVOUR_WHEN_IDLE: 'false',
          RATATOSK_METRICS_EVENT_LOOP_SAMPLE_MS: '250',
        },
        modules: MODULE_CONFIGS,
      });
      assert.equal(config.domain, 'env.example');
      assert.equal(config.dataDir, '/data');
      assert.equal(config.nodeId, 'n2');
      assert.equal(config.logLevel, 'warn');
      assert.deepEqual(config.admins, ['a@env.example', 'b@env.example']);
      assert.deepEqual([config.c2s.host, config.c2s.port, config.c2s.tlsPort, config.c2s.requireTls], ['0.0.0.0', 0, -1, false]);
      assert.deepEqual([config.http.host, config.http.port, config.http.trustedProxies], ['127.0.0.1', 8080, ['192.168.0.0/16']]);
      assert.deepEqual(config.tls, { cert: 'c.pem', key: 'k.pem' });
      assert.equal(config.database.url, 'postgresql://localhost/r');
      assert.deepEqual(config.redis.cluster, ['r1:6379', 'r2:6379']);
      assert.equal(config.memory.favourWhenIdle, false);
      assert.equal(config.metrics.eventLoopSampleMs, 250);
      assert.deepEqual(config.sections?.registration, { allow: true }, "a module's variable (XEP-0077's) sets its table");
    });

    it('reads the Redis URL and the sentinel pair', () => {
      assert.equal(load({ env: { RATATOSK_REDIS_URL: 'redis://r:6379/0' } }).redis.url, 'redis://r:6379/0');
      const sentinel = load({ env: { RATATOSK_REDIS_SENTINELS: 's1:26379,s2:26379', RATATOSK_REDIS_SENTINEL_NAME: 'm' } }).redis;
      assert.deepEqual(sentinel, { sentinels: ['s1:26379', 's2:26379'], sentinelName: 'm', cluster: [] });
    });

    it('parses booleans as true/false, 1/0 and yes/no in any case', () => {
      for (const [value, expected] of [['true', true], ['1', true], ['yes', true], ['TRUE', true], ['Yes', true], ['false', false], ['0', false], ['no', false], ['NO', false]] as const) {
        assert.equal(load({ env: { RATATOSK_REQUIRE_TLS: value } }).c2s.requireTls, expected, value);
        assert.deepEqual(load({ env: { RATATOSK_ALLOW_REGISTRATION: value }, modules: MODULE_CONFIGS }).sections?.registration, { allow: expected }, value);
      }
    });

    it('treats an empty variable as unset', () => {
      const file = writeToml('[c2s]\nport = 1234\n');
      assert.equal(load({ file, env: { RATATOSK_C2S_PORT: '', RATATOSK_DATABASE_URL: '' } }).c2s.port, 1234);
    });

    it('rejects an unknown RATATOSK_ variable by name and suggests the right one', () => {
      rejects(() => load({ env: { RATATOSK_C2S_PROT: '5222' } }), 'CONFIG_UNKNOWN_ENV', 'RATATOSK_C2S_PROT', 'RATATOSK_C2S_PORT');
      rejects(() => load({ env: { RATATOSK_WHATEVER: 'x' } }), 'CONFIG_UNKNOWN_ENV', 'RATATOSK_WHATEVER');
    });

    it('ignores variables without the prefix', () => {
      assert.equal(load({ env: { PATH: '/bin', RATATOSKDOMAIN: 'x' } }).domain, 'localhost');
    });

    it('names the variable when its value is bad', () => {
      rejects(
        () => load({ env: { RATATOSK_C2S_PORT: 'abc' } }),
        'CONFIG_INVALID',
        'c2s.port: expected an integer between -1 and 65535, got "abc" (from RATATOSK_C2S_PORT)',
      );
      rejects(() => load({ env: { RATATOSK_HTTP_PORT: '1.5' } }), 'CONFIG_INVALID', 'http.port', 'RATATOSK_HTTP_PORT');
      rejects(() => load({ env: { RATATOSK_REQUIRE_TLS: 'maybe' } }), 'CONFIG_INVALID', 'c2s.require_tls', '"maybe"', 'RATATOSK_REQUIRE_TLS');
      rejects(() => load({ env: { RATATOSK_LOG_LEVEL: 'verbose' } }), 'CONFIG_INVALID', 'log_level', 'RATATOSK_LOG_LEVEL', 'trace');
      rejects(() => load({ env: { RATATOSK_ADMINS: 'ok@x, bad/resource@' } }), 'CONFIG_INVALID', 'admins[1]', 'RATATOSK_ADMINS');
      rejects(() => load({ env: { RATATOSK_REDIS_SENTINELS: 's1', RATATOSK_REDIS_SENTINEL_NAME: 'm' } }), 'CONFIG_INVALID', 'redis.sentinels[0]', 'host:port');
    });

    it('names the file when RATATOSK_CONFIG points nowhere', () => {
      rejects(() => load({ env: { RATATOSK_CONFIG: 'missing.toml' } }), 'CONFIG_FILE_UNREADABLE', join(dir, 'missing.toml'), 'RATATOSK_CONFIG');
    });
  });

  describe('admin API', () => {
    it('reads [admin] from the file and the port from RATATOSK_ADMIN_PORT', () => {
      const file = writeToml('[admin]\nhost = "::1"\nport = 15281\n');
      assert.deepEqual(load({ file }).admin, { host: '::1', port: 15281 });
      assert.deepEqual(load({ file, env: { RATATOSK_ADMIN_PORT: '-1' } }).admin, { host: '::1', port: -1 }, '-1 disables');
      assert.equal(load({ env: { RATATOSK_ADMIN_PORT: '0' } }).admin.port, 0, '0 is a free port');
      assert.equal(load({ overrides: { admin: { host: '127.0.0.2' } } }).admin.host, '127.0.0.2', 'all of 127.0.0.0/8 is loopback');
    });

    it('refuses a host that is not a loopback address, naming admin.host', () => {
      for (const host of ['0.0.0.0', '::', '192.168.1.10', 'localhost', 'example.org', '::ffff:10.0.0.1', '128.0.0.1']) {
        const file = writeToml(`[admin]\nhost = "${host}"\n`);
        rejects(() => load({ file }), 'CONFIG_INVALID', 'admin.host: expected a loopback address (127.0.0.0/8 or ::1)', JSON.stringify(host));
      }
    });

    it('names RATATOSK_ADMIN_PORT when its value is bad, and a clash with http.port', () => {
      rejects(() => load({ env: { RATATOSK_ADMIN_PORT: 'x' } }), 'CONFIG_INVALID', 'admin.port', 'RATATOSK_ADMIN_PORT');
      rejects(() => load({ env: { RATATOSK_ADMIN_PORT: '70000' } }), 'CONFIG_INVALID', 'admin.port', 'between -1 and 65535');
      const file = writeToml('[http]\nhost = "127.0.0.1"\nport = 8080\n[admin]\nport = 8080\n');
      rejects(() => load({ file }), 'CONFIG_INVALID', 'admin.port: must differ from http.port');
    });

    it('names metrics.event_loop_sample_ms and its variable when the interval is out of range', () => {
      assert.equal(load({ file: writeToml('[metrics]\nevent_loop_sample_ms = 1000\n') }).metrics.eventLoopSampleMs, 1000);
      rejects(() => load({ file: writeToml('[metrics]\nevent_loop_sample_ms = 0\n') }), 'CONFIG_INVALID', 'metrics.event_loop_sample_ms');
      rejects(() => load({ env: { RATATOSK_METRICS_EVENT_LOOP_SAMPLE_MS: 'often' } }), 'CONFIG_INVALID', 'metrics.event_loop_sample_ms', 'RATATOSK_METRICS_EVENT_LOOP_SAMPLE_MS');
    });

    it('rejects an unknown key in [admin]', () => {
      const file = writeToml('[admin]\ntoken = "x"\n');
      rejects(() => load({ file }), 'CONFIG_UNKNOWN_KEY', 'admin.token');
    });
  });

  describe('errors', () => {
    it('CONFIG_FILE_UNREADABLE names the path', () => {
      rejects(() => load({ file: join(dir, 'nope.toml') }), 'CONFIG_FILE_UNREADABLE', join(dir, 'nope.toml'), 'no such file');
      rejects(() => load({ file: dir }), 'CONFIG_FILE_UNREADABLE', dir);
    });

    it('CONFIG_PARSE gives the file, line and column', () => {
      const file = writeToml('domain = "x"\n[c2s]\nport = = 5\n');
      rejects(() => load({ file }), 'CONFIG_PARSE', `${file}:3:`);
      const duplicate = writeToml('[c2s]\nport = 1\nport = 2\n', 'dup.toml');
      rejects(() => load({ file: duplicate }), 'CONFIG_PARSE', `${duplicate}:3:`);
    });

    it('CONFIG_UNKNOWN_KEY names the full key path and the file', () => {
      const file = writeToml('[c2s]\nprot = 5222\n');
      const message = rejects(() => load({ file }), 'CONFIG_UNKNOWN_KEY', `unknown key "c2s.prot" in ${file}`);
      assert.match(message, /did you mean "c2s\.port"/);
    });

    it('CONFIG_UNKNOWN_KEY for top-level keys, whole tables and deeper nesting', () => {
      rejects(() => load({ file: writeToml('domian = "x"') }), 'CONFIG_UNKNOWN_KEY', '"domian"', '"domain"');
      rejects(() => load({ file: writeToml('[s2s]\nport = 5269\n') }), 'CONFIG_UNKNOWN_KEY', '"s2s"');
      rejects(() => load({ file: writeToml('[c2s.limits]\nrate = 5\n') }), 'CONFIG_UNKNOWN_KEY', '"c2s.limits"');
      rejects(() => load({ file: writeToml('[auth]\nscram_iterations = 4096\nscram_iteration = 1\n') }), 'CONFIG_UNKNOWN_KEY', '"auth.scram_iteration"');
    });

    it('CONFIG_UNKNOWN_KEY for an override outside the schema', () => {
      const overrides = { c2s: { nope: 1 } } as unknown as LoadConfigOptions['overrides'];
      rejects(() => load({ overrides }), 'CONFIG_UNKNOWN_KEY', '"c2s.nope" in overrides');
    });

    it('CONFIG_INVALID names the key, what was expected and what was found', () => {
      const file = writeToml('[c2s]\nport = 70000\n');
      rejects(() => load({ file }), 'CONFIG_INVALID', 'c2s.port: expected an integer between -1 and 65535, got 70000', file);
    });

    it('rejects values of the wrong type', () => {
      const cases: [string, string[]][] = [
        ['[c2s]\nport = "5222"', ['c2s.port', '"5222"']],
        ['[c2s]\nport = 52.5', ['c2s.port', '52.5']],
        ['[c2s]\nrequire_tls = "yes"', ['c2s.require_tls', 'true or false']],
        ['c2s = 5', ['c2s: expected a table']],
        ['admins = "a@b"', ['admins', 'list']],
        ['admins = ["a@b", 5]', ['admins[1]']],
        ['log_level = "loud"', ['log_level', 'one of fatal']],
        ['domain = "bad domain"', ['domain', 'domain name']],
        ['domain = "a..b"', ['domain']],
        ['domain = ""', ['domain']],
        ['admins = ["example.org"]', ['admins[0]', 'bare JID']],
        ['admins = ["u@example.org/res"]', ['admins[0]', 'bare JID']],
        ['[c2s]\nmax_stanza_size = 512', ['c2s.max_stanza_size', 'between 1024']],
        ['[c2s]\nauth_timeout = 0', ['c2s.auth_timeout']],
        ['[c2s]\nmax_depth = -1', ['c2s.max_depth']],
        ['[c2s]\nhost = "not a host"', ['c2s.host']],
        ['[http]\ntrusted_proxies = ["10.0.0.0/33"]', ['http.trusted_proxies[0]']],
        ['[http]\nproxy_protocol_from = ["proxy.example"]', ['http.proxy_protocol_from[0]']],
        ['[c2s]\nproxy_protocol_from = ["10.0.0.1", "fd00::/129"]', ['c2s.proxy_protocol_from[1]']],
        ['[http]\nmax_websocket_frame = 10', ['http.max_websocket_frame']],
        ['[database]\nurl = "mysql://x/y"', ['database.url', 'postgres://']],
        ['[redis]\nurl = "http://x"', ['redis.url', 'redis://']],
        ['[redis]\ncluster = ["r1:99999"]', ['redis.cluster[0]', 'host:port']],
        ['[auth]\nscram_iterations = 0', ['auth.scram_iterations']],
        ['[tls]\ncert = ""\nkey = "k"', ['tls.cert']],
        ['node_id = "has space"', ['node_id']],
      ];
      for (const [toml, fragments] of cases) {
        rejects(() => load({ file: writeToml(toml) }), 'CONFIG_INVALID', ...fragments);
      }
    });

    it('reports every invalid key at once', () => {
      const file = writeToml('[c2s]\nport = -2\ntls_port = "x"\n');
      rejects(() => load({ file }), 'CONFIG_INVALID', 'c2s.port', 'c2s.tls_port');
    });

    it('checks rules that span keys', () => {
      rejects(() => load({ overrides: { c2s: { preAuthMaxStanzaSize: 300000 } } }), 'CONFIG_INVALID', 'c2s.pre_auth_max_stanza_size', 'c2s.max_stanza_size');
      rejects(() => load({ env: { RATATOSK_TLS_CERT: 'c.pem' } }), 'CONFIG_INVALID', 'tls.key');
      rejects(() => load({ env: { RATATOSK_TLS_KEY: 'k.pem' } }), 'CONFIG_INVALID', 'tls.cert');
      rejects(() => load({ env: { RATATOSK_REDIS_URL: 'redis://r', RATATOSK_REDIS_CLUSTER: 'a:1' } }), 'CONFIG_INVALID', 'redis.url', 'redis.cluster');
      rejects(() => load({ env: { RATATOSK_REDIS_SENTINELS: 's:26379' } }), 'CONFIG_INVALID', 'redis.sentinel_name');
      rejects(() => load({ env: { RATATOSK_REDIS_SENTINEL_NAME: 'm' } }), 'CONFIG_INVALID', 'redis.sentinels');
      rejects(() => load({ env: { RATATOSK_C2S_TLS_PORT: '5222' } }), 'CONFIG_INVALID', 'c2s.tls_port', 'c2s.port');
      assert.equal(load({ overrides: { c2s: { port: 0, tlsPort: 0 }, http: { port: 0 } } }).c2s.port, 0, 'ephemeral ports may repeat');
    });
  });

  describe('overrides', () => {
    it('apply camelCase keys last and are validated', () => {
      const config = load({ env: { RATATOSK_C2S_PORT: '1' }, overrides: { c2s: { port: 0, maxStanzaSize: 4096, preAuthMaxStanzaSize: 2048 }, admins: ['x@y'] } });
      assert.deepEqual([config.c2s.port, config.c2s.maxStanzaSize, config.admins], [0, 4096, ['x@y']]);
      rejects(() => load({ overrides: { c2s: { port: 99999 } } }), 'CONFIG_INVALID', 'c2s.port', 'from overrides');
    });

    it('an undefined value restores the default', () => {
      const file = writeToml('[database]\nurl = "postgres://db/x"\n');
      assert.deepEqual(load({ file, overrides: { database: { url: undefined } } }).database, {});
    });
  });

  describe('public connection URLs (XEP-0156 host-meta)', () => {
    it('reads http.public_websocket_url and http.public_bosh_url from the file and RATATOSK_PUBLIC_*; unset by default', () => {
      assert.equal(load().http.publicWebsocketUrl, undefined);
      assert.equal(load().http.publicBoshUrl, undefined);
      const file = writeToml('[http]\npublic_websocket_url = "wss://chat.example.org/xmpp-websocket"\npublic_bosh_url = "https://chat.example.org/http-bind"\n');
      const fromFile = load({ file }).http;
      assert.deepEqual([fromFile.publicWebsocketUrl, fromFile.publicBoshUrl], ['wss://chat.example.org/xmpp-websocket', 'https://chat.example.org/http-bind']);
      const fromEnv = load({ env: { RATATOSK_PUBLIC_WEBSOCKET_URL: 'ws://10.0.0.1:5280/xmpp-websocket', RATATOSK_PUBLIC_BOSH_URL: 'http://10.0.0.1:5280/http-bind' } }).http;
      assert.deepEqual([fromEnv.publicWebsocketUrl, fromEnv.publicBoshUrl], ['ws://10.0.0.1:5280/xmpp-websocket', 'http://10.0.0.1:5280/http-bind']);
    });

    it('accepts only ws(s):// for the WebSocket URL and http(s):// for the BOSH URL, naming the key and variable', () => {
      rejects(() => load({ env: { RATATOSK_PUBLIC_WEBSOCKET_URL: 'https://chat.example.org/ws' } }), 'CONFIG_INVALID', 'http.public_websocket_url', 'ws://', 'RATATOSK_PUBLIC_WEBSOCKET_URL');
      rejects(() => load({ env: { RATATOSK_PUBLIC_BOSH_URL: 'wss://chat.example.org/bosh' } }), 'CONFIG_INVALID', 'http.public_bosh_url', 'http://', 'RATATOSK_PUBLIC_BOSH_URL');
      rejects(() => load({ file: writeToml('[http]\npublic_bosh_url = "not a url"\n') }), 'CONFIG_INVALID', 'http.public_bosh_url');
    });
  });
});
