// A module's own configuration table ([muc], ...): its zod schema, checked with the rest of the
// configuration at load and again when the module host starts (a start error names the key path),
// and the typed settings the module reads through its context (ctx.settings).
import { z } from 'zod';
import { bool, domain, expect, integer } from '../config/schema.js';
import type { Config } from '../config/types.js';

/** One problem in a module's table: the key path under the table ([] for the table) and what was expected. */
export interface ModuleConfigIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

export type ModuleConfigResult<C> = { ok: true; settings: C } | { ok: false; unknownKeys: string[][]; issues: ModuleConfigIssue[] };

export interface ModuleConfigSpec<C> {
  /** The TOML table, e.g. 'muc' for [muc]; overrides use the same name with camelCase keys. */
  readonly section: string;
  /** The table's keys, for the documentation check and "did you mean" hints. */
  readonly keys: readonly string[];
  /** The strict schema of the table (what load.ts merges into the file schema). */
  readonly schema: z.ZodType;
  /** Validates the table (undefined: absent, every default) and resolves it against the server's configuration. */
  parse(table: unknown, server: Config): ModuleConfigResult<C>;
  /** Rules that span the table and the server's configuration, checked after the table is valid. */
  check(settings: C, server: Config): ModuleConfigIssue[];
}


/** The helpers the core's schema uses, for module tables that should read like the core's. */
export const configTypes = { integer, domain, bool };

export interface ModuleConfigOptions<S extends z.ZodRawShape, C> {
  section: string;
  /** snake_case keys, as in the TOML file, each with its default. */
  shape: S;
  /** The typed settings from the validated table (derived defaults may read the server's configuration). */
  resolve(table: z.output<z.ZodObject<S>>, server: Config): C;
  check?(settings: C, server: Config): ModuleConfigIssue[];
}

export function moduleConfig<S extends z.ZodRawShape, C>(options: ModuleConfigOptions<S, C>): ModuleConfigSpec<C> {
  const schema = z.strictObject(options.shape, expect('a table'));
  return {
    section: options.section,
    keys: Object.keys(options.shape),
    schema,
    parse(table, server) {
      const result = schema.safeParse(table ?? {});
      if (result.success) return { ok: true, settings: options.resolve(result.data, server) };
      const unknownKeys: string[][] = [];
      const issues: ModuleConfigIssue[] = [];
      for (const issue of result.error.issues) {
        if (issue.code === 'unrecognized_keys') unknownKeys.push(...issue.keys.map((key) => [...issue.path.map(String), key]));
        else issues.push({ path: issue.path, message: issue.message });
      }
      return { ok: false, unknownKeys, issues };
    },
    check: (settings, server) => options.check?.(settings, server) ?? [],
  };
}
