// A module's own configuration table ([muc], ...): its zod schema, checked with the rest of the
// configuration at load and again when the module host starts (a start error names the key path),
// and the typed settings the module reads through its context (ctx.settings).
import { z } from 'zod';
import { bool, domain, expect, host, integer, port, seconds, text } from '../config/schema.js';
import type { Config } from '../config/types.js';

/** One problem in a module's table: the key path under the table ([] for the table) and what was expected. */
export interface ModuleConfigIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  /** The top-level key the path is under when it is not the module's section (one of its `topLevel` keys). */
  readonly section?: string;
}

/** The key path of an issue as messages show it: `muc.max_occupants`, `components[1].domain`. */
export function issuePath(spec: Pick<ModuleConfigSpec<unknown>, 'section'>, issue: Pick<ModuleConfigIssue, 'path' | 'section'>): string {
  let out = issue.section ?? spec.section;
  for (const key of issue.path) out += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
  return out;
}

/**
 * An environment variable a module reads: the key path from the top level (['registration', 'allow']) and how
 * the text becomes a value (a function for a format of the module's own; what it returns is validated).
 */
export interface ModuleEnvVar {
  readonly path: readonly string[];
  readonly kind: 'string' | 'integer' | 'boolean' | 'list' | ((value: string) => unknown);
}

/** A domain a module's settings make it serve, with the key that names it, for the check that no two modules serve one. */
export interface ServedDomain {
  readonly domain: string;
  readonly path: readonly PropertyKey[];
  /** As ModuleConfigIssue.section. */
  readonly section?: string;
}

export type ModuleConfigResult<C> = { ok: true; settings: C } | { ok: false; unknownKeys: string[][]; issues: ModuleConfigIssue[] };

export interface ModuleConfigSpec<C> {
  /** The TOML table, e.g. 'muc' for [muc]; overrides use the same name with camelCase keys. */
  readonly section: string;
  /** The table's keys, for the documentation check and "did you mean" hints. */
  readonly keys: readonly string[];
  /** The strict schema of the table (what load.ts merges into the file schema). */
  readonly schema: z.ZodType;
  /** Other top-level keys the module owns, with their schemas (XEP-0114's [[components]] list). */
  readonly topLevel: Readonly<Record<string, z.ZodType>>;
  /** The environment variables that set its keys, by name. */
  readonly env: Readonly<Record<string, ModuleEnvVar>>;
  /**
   * Keys of the table a reload (SIGHUP, `ratatosk reload`) applies to the running module: it reads them from
   * ctx.settings when it uses them, or rebuilds what it made of them in ctx.onSettingsChange. A change to every
   * other key is reported as needing a restart. Absent: none.
   */
  readonly reloadable?: readonly string[];
  /**
   * Validates the table (undefined: absent, every default) and the `topLevel` keys (read from `server.sections`),
   * and resolves them against the server's configuration.
   */
  parse(table: unknown, server: Config): ModuleConfigResult<C>;
  /** Rules that span the table and the server's configuration, checked after the table is valid. */
  check(settings: C, server: Config): ModuleConfigIssue[];
  /** The domains the settings make the module serve; two modules (or a module and the server) serving one is a start error. */
  domains(settings: C): ServedDomain[];
}


/** The helpers the core's schema uses, for module tables that should read like the core's. */
export const configTypes = { integer, domain, bool, text, host, port, seconds, expect };

type TopLevel = Record<string, z.ZodType>;

export interface ModuleConfigOptions<S extends z.ZodRawShape, C, T extends TopLevel = Record<never, z.ZodType>> {
  section: string;
  /** snake_case keys, as in the TOML file, each with its default. */
  shape: S;
  /** Other top-level keys the module owns besides its table, each with its schema and default; kept for file formats that predate the module. */
  topLevel?: T;
  /** Environment variables for its keys, by name (RATATOSK_...). */
  env?: Readonly<Record<string, ModuleEnvVar>>;
  /** Keys of `shape` a reload applies without a restart (ModuleConfigSpec.reloadable). */
  reloadable?: readonly (keyof S & string)[];
  /** The typed settings from the validated table (derived defaults may read the server's configuration). */
  resolve(table: z.output<z.ZodObject<S>>, server: Config, topLevel: { [K in keyof T]: z.output<T[K]> }): C;
  check?(settings: C, server: Config): ModuleConfigIssue[];
  domains?(settings: C): ServedDomain[];
}

export function moduleConfig<S extends z.ZodRawShape, C, T extends TopLevel = Record<never, z.ZodType>>(
  options: ModuleConfigOptions<S, C, T>,
): ModuleConfigSpec<C> {
  const schema = z.strictObject(options.shape, expect('a table'));
  const topLevel: TopLevel = options.topLevel ?? {};
  for (const key of Object.keys(topLevel)) {
    if (key === options.section) throw new Error(`moduleConfig: topLevel key "${key}" is the module's section`);
  }
  return {
    section: options.section,
    keys: Object.keys(options.shape),
    schema,
    topLevel,
    env: options.env ?? {},
    reloadable: options.reloadable ?? [],
    parse(table, server) {
      const unknownKeys: string[][] = [];
      const issues: ModuleConfigIssue[] = [];
      const result = schema.safeParse(table ?? {});
      if (!result.success) {
        for (const issue of result.error.issues) {
          if (issue.code === 'unrecognized_keys') unknownKeys.push(...issue.keys.map((key) => [...issue.path.map(String), key]));
          else issues.push({ path: issue.path, message: issue.message });
        }
      }
      const extra: Record<string, unknown> = {};
      for (const [key, keySchema] of Object.entries(topLevel)) {
        const checked = keySchema.safeParse(server.sections?.[key]);
        if (checked.success) extra[key] = checked.data;
        // Unknown keys under a top-level key are issues too: unknownKeys are paths under the section.
        else issues.push(...checked.error.issues.map((i) => ({ section: key, path: i.path, message: i.code === 'unrecognized_keys' ? `unknown keys ${i.keys.join(', ')}` : i.message })));
      }
      if (!result.success || issues.length > 0) return { ok: false, unknownKeys, issues };
      return { ok: true, settings: options.resolve(result.data, server, extra as { [K in keyof T]: z.output<T[K]> }) };
    },
    check: (settings, server) => options.check?.(settings, server) ?? [],
    domains: (settings) => options.domains?.(settings) ?? [],
  };
}
