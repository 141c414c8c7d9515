// The [upload] configuration table of XEP-0363 HTTP File Upload (ratatosk.example.toml documents each key).
// Checked with the rest of the configuration at load and at start (src/modules/config.ts).
import { join } from 'node:path';
import { z } from 'zod';
import { configTypes, moduleConfig, type ModuleConfigIssue } from '../../src/modules/api.js';

const { integer, domain, expect } = configTypes;
const MIB = 1024 * 1024;
/** 2^53 - 1 would do for JavaScript; 1 TiB is more than any upload over one HTTP request should be. */
const MAX_BYTES = 1024 * 1024 * MIB;

export interface UploadSettings {
  /** The service's domain; default upload.<domain>. */
  readonly domain: string;
  /** Largest file a slot is given for (§3 max-file-size, §5 file-too-large). */
  readonly maxFileSize: number;
  /** Most bytes one user may have stored at once; 0: no quota. */
  readonly quotaPerUser: number;
  /** Days a file is kept after its upload. */
  readonly expireDays: number;
  /** Seconds a PUT URL stays valid (§7 recommends about a minute). */
  readonly slotSeconds: number;
  /** Where the files live: a volume every node shares in a cluster. */
  readonly directory: string;
  /** The base URL of PUT and GET URLs, ending in '/'; undefined: http://<public host>:<bound HTTP port>/upload/. */
  readonly publicUrl: string | undefined;
  /** The host of the derived URL (public_host, else the domain). */
  readonly publicHost: string;
  /** The URL signing secret from the file; undefined: <directory>/.secret, made at first start. */
  readonly secret: string | undefined;
  /** Origins browsers may PUT and GET from (the [http] cors_origins setting). */
  readonly corsOrigins: readonly string[];
}

export const UPLOAD_PATH = '/upload/';

const url = z.string(expect('an http(s) URL')).refine((value) => {
  try {
    const parsed = new URL(value);
    return (parsed.protocol === 'https:' || parsed.protocol === 'http:') && parsed.search === '' && parsed.hash === '';
  } catch {
    return false;
  }
}, expect('an http(s) URL without query or fragment'));

const secret = z.string(expect('a string of at least 32 characters')).min(32, expect('a string of at least 32 characters'));

/** The URL behind a TLS-ending proxy: public_websocket_url or public_bosh_url with https and /upload/. */
function fromPublicEndpoint(endpoint: string | undefined): string | undefined {
  if (endpoint === undefined) return undefined;
  const base = new URL(endpoint);
  base.protocol = base.protocol === 'wss:' || base.protocol === 'https:' ? 'https:' : 'http:';
  base.pathname = UPLOAD_PATH;
  base.search = '';
  base.hash = '';
  return base.href;
}

export const uploadConfig = moduleConfig({
  section: 'upload',
  shape: {
    /** Default: upload.<domain>. */
    domain: domain.optional(),
    max_file_size: integer(1, MAX_BYTES).default(10 * MIB),
    quota_per_user: integer(0, MAX_BYTES).default(0),
    expire_days: integer(1, 36500).default(30),
    slot_seconds: integer(10, 86400).default(300),
    /** Default: <data_dir>/upload. */
    directory: z.string(expect('a directory path')).min(1, expect('a directory path')).optional(),
    /** Default: from http.public_websocket_url / public_bosh_url, else http://<public_host or domain>:<http port>/upload/. */
    public_url: url.optional(),
    secret: secret.optional(),
  },
  env: {
    RATATOSK_UPLOAD_PUBLIC_URL: { path: ['upload', 'public_url'], kind: 'string' },
    RATATOSK_UPLOAD_DIRECTORY: { path: ['upload', 'directory'], kind: 'string' },
    RATATOSK_UPLOAD_SECRET: { path: ['upload', 'secret'], kind: 'string' },
  },
  resolve: (t, server): UploadSettings => {
    const publicUrl = t.public_url ?? fromPublicEndpoint(server.http.publicWebsocketUrl) ?? fromPublicEndpoint(server.http.publicBoshUrl);
    return {
      domain: t.domain ?? `upload.${server.domain}`,
      maxFileSize: t.max_file_size,
      quotaPerUser: t.quota_per_user,
      expireDays: t.expire_days,
      slotSeconds: t.slot_seconds,
      directory: t.directory ?? join(server.dataDir, 'upload'),
      publicUrl: publicUrl === undefined ? undefined : publicUrl.endsWith('/') ? publicUrl : `${publicUrl}/`,
      publicHost: server.publicHost ?? server.domain,
      secret: t.secret,
      corsOrigins: server.http.corsOrigins,
    };
  },
  check: (settings): ModuleConfigIssue[] => [
    ...(settings.quotaPerUser !== 0 && settings.quotaPerUser < settings.maxFileSize
      ? [{ path: ['quota_per_user'], message: `must be 0 (no quota) or at least max_file_size (${settings.maxFileSize}), got ${settings.quotaPerUser}` }]
      : []),
  ],
  // The service's domain is its own: the server's domain or another module's is a start error.
  domains: (settings) => [{ path: ['domain'], domain: settings.domain }],
});
