// `ratatosk cert make --out <dir>`: the self-signed certificate a node makes at first start, made
// into a directory a TLS-terminating load balancer can read (docker/compose.yaml's one-shot `certs`
// service). It writes <dir>/tls/<domain>.crt and .key as the node would (kept while valid, replaced
// when expired) and <dir>/<domain>.pem, certificate then key in one file, as HAProxy's `crt` and
// nginx's ssl_certificate/ssl_certificate_key take it.
import { chmod, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ServerError } from '../errors.js';
import { createLogger } from '../observability/log.js';
import { loadOrCreateCertificate } from '../transports/certificate.js';
import { UsageError, type CommandResult, type ConfigCommand } from './command.js';

export const certMakeCommand: ConfigCommand = {
  name: 'cert make',
  runs: 'config',
  summary: 'Make (or keep) a self-signed certificate for the domain in a directory a load balancer reads.',
  usage: 'cert make --out <dir>',
  details: [
    'Writes <dir>/tls/<domain>.crt and <dir>/tls/<domain>.key (kept while valid, replaced when expired) and',
    '<dir>/<domain>.pem with both, for HAProxy (bind ... ssl crt <dir>/<domain>.pem) and nginx.',
    'The files are readable by every user: the directory is meant to be a volume shared by the balancer',
    'and the nodes, which run as different users. Give the balancer a real certificate in production.',
  ],
  args: [],
  options: [{ name: 'out', takesValue: true, valueName: 'dir', required: true, summary: 'the directory to write into (created if missing)' }],
  async run(ctx, input): Promise<CommandResult> {
    const out = input.options.out;
    if (typeof out !== 'string' || out === '') throw new UsageError('--out needs a directory', certMakeCommand);
    const dir = resolve(out);
    const domain = ctx.config.domain;
    try {
      const credentials = await loadOrCreateCertificate({ ...ctx.config, dataDir: dir, tls: {} }, createLogger('silent'));
      const pem = join(dir, `${domain}.pem`);
      await writeFile(`${pem}.tmp`, `${credentials.cert.trimEnd()}\n${credentials.key.trimEnd()}\n`, { mode: 0o644 });
      await rename(`${pem}.tmp`, pem);
      for (const [path, mode] of [[dir, 0o755], [join(dir, 'tls'), 0o755], [join(dir, 'tls', `${domain}.key`), 0o644], [pem, 0o644]] as const) await chmod(path, mode);
      return {
        exitCode: 0,
        lines: [`${pem}`, `fingerprint ${credentials.fingerprint}`],
        data: { pem, cert: join(dir, 'tls', `${domain}.crt`), key: join(dir, 'tls', `${domain}.key`), fingerprint: credentials.fingerprint },
      };
    } catch (err) {
      if (err instanceof ServerError) throw err;
      throw new ServerError('TLS_CERT_INVALID', `cannot write the certificate into ${dir}: ${err instanceof Error ? err.message : String(err)}`);
    }
  },
};
