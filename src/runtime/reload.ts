// Reloading the configuration while the server runs (SIGHUP to `ratatosk serve`, `ratatosk reload`): the file
// is read and checked exactly as at start (environment variables still win); what changed is applied when the
// running parts can take it, and the rest is reported as needing a restart while the old values stay in force.
// A file that does not load changes nothing.
import { changedKeys, coreValueAt, setCoreValue } from '../config/diff.js';
import type { Config } from '../config/types.js';
import { ServerError } from '../errors.js';
import type { ModuleReload } from '../modules/host.js';
import type { Logger } from '../observability/log.js';

export interface ReloadReport {
  /** Key paths now in force (`log_level`, `limits.max_connections_per_address`, `registration.allow`). */
  readonly applied: string[];
  /** Key paths that changed but keep their old value until a restart (`c2s.port`, `database.url`). */
  readonly needsRestart: string[];
  /** The SHA-256 fingerprint of the certificate now served, when the reload replaced it (new paths or new files). */
  readonly certificate?: string;
}

/**
 * The core's keys a reload applies (a table name covers every key under it). Each is read where it is used, or
 * the part that copied it is told by `refresh` (the logger, the per-address limiter, new streams' parser limits
 * and read shaping); `tls.*` replaces the served certificate.
 */
export const CORE_RELOADABLE: readonly string[] = [
  'log_level',
  'admins',
  'limits',
  'c2s.max_stanza_size',
  'c2s.pre_auth_max_stanza_size',
  'c2s.max_depth',
  'c2s.auth_timeout',
  'tls.cert',
  'tls.key',
  'memory',
];

const isCoreReloadable = (path: string): boolean => CORE_RELOADABLE.some((key) => path === key || path.startsWith(`${key}.`));

/** A certificate as the server loads it (src/transports/certificate.ts). */
export interface LoadedCertificate {
  readonly cert: string;
  readonly key: string;
  readonly fingerprint: string;
}

/** What of the running server a reload reaches. */
export interface ReloadTarget {
  /** The configuration every part reads: reloaded keys are written into it. */
  readonly config: Config;
  readonly log: Logger;
  /** The running modules' tables (ModuleHost.prepareReload). */
  prepareModules(next: Config, changed: readonly string[]): ModuleReload;
  /** Loads the certificate a configuration names (its files are read again even when the paths are the same). */
  loadCertificate(config: Config): Promise<LoadedCertificate>;
  /** The fingerprint of the certificate served now. */
  servedFingerprint(): string;
  /** Serves `certificate` to new connections; throws, changing nothing, when it cannot. */
  replaceCertificate(certificate: LoadedCertificate): void;
  /** Tells the parts that copied core keys at start to read them again from `config`. */
  refresh(): void;
}

/** Runs reloads one at a time: a SIGHUP during `ratatosk reload` waits for it. */
export class Reloader {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly load: () => Config,
    private readonly target: ReloadTarget,
  ) {}

  reload(): Promise<ReloadReport> {
    const run = this.queue.then(() => this.reloadNow());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(): Promise<ReloadReport> {
    const { target } = this;
    const log = target.log;
    let next: Config;
    let certificate: LoadedCertificate;
    try {
      next = this.load();
      certificate = await target.loadCertificate(next);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      log.error({ reason }, 'configuration not reloaded: the running server keeps its settings');
      throw new ServerError(err instanceof ServerError ? err.code : 'RELOAD_FAILED', `configuration not reloaded (the server keeps running with its settings): ${reason}`);
    }

    const live = target.config;
    const changed = changedKeys(live, next);
    const coreNow = changed.core.filter(isCoreReloadable);
    const modules = target.prepareModules(next, changed.modules);
    // A table no running module owns cannot take effect without one.
    const claimed = new Set([...modules.applied, ...modules.needsRestart]);
    const needsRestart = [...changed.core.filter((path) => !isCoreReloadable(path)), ...modules.needsRestart, ...changed.modules.filter((path) => !claimed.has(path))].sort();
    const newCertificate = certificate.fingerprint !== target.servedFingerprint();

    // The certificate first: if the TLS stack refuses it, nothing has changed yet.
    if (newCertificate) target.replaceCertificate(certificate);
    for (const path of coreNow) setCoreValue(live, path, coreValueAt(next, path));
    target.refresh();
    await modules.commit();

    const applied = [...coreNow, ...modules.applied].sort();
    const report: ReloadReport = { applied, needsRestart, ...(newCertificate ? { certificate: certificate.fingerprint } : {}) };
    const nothing = changed.core.length === 0 && changed.modules.length === 0 && !newCertificate;
    log.info(report, nothing ? 'configuration reloaded: nothing changed' : 'configuration reloaded');
    if (needsRestart.length > 0) log.warn({ needsRestart }, `changed keys that need a restart (the old values stay in force): ${needsRestart.join(', ')}`);
    return report;
  }
}

/** The report as the CLI prints it. */
export function reportLines(report: ReloadReport): string[] {
  const lines = [`applied: ${report.applied.length > 0 ? report.applied.join(', ') : 'nothing'}`];
  if (report.certificate !== undefined) lines.push(`TLS certificate: now ${report.certificate}`);
  if (report.needsRestart.length > 0) lines.push(`needs a restart: ${report.needsRestart.join(', ')} (the old values stay in force until then)`);
  return lines;
}
