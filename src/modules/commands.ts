// Administration commands a module contributes (ModuleDefinition.commands): `ratatosk <name>` in the
// CLI and through the local admin API, as the core's commands, run on the module's own stores. The
// composition root (src/main.ts) collects them, so the admin registry in src/admin names no module.
import type { BaseContext, CommandInput, CommandResult, CommandSpec, StoreCommand } from '../admin/command.js';
import type { CoreHooks } from '../hooks/core-hooks.js';
import type { ModuleStoresSpec } from './storage.js';

export type { CommandInput, CommandResult, CommandSpec, JsonValue } from '../admin/command.js';
export { parseDomain, parseJid, parseUserJid, requiredArg, servedDomain, stringOption } from '../admin/command.js';

/** Asks the hooks of the running server's modules (as ModuleContext.fire). */
export type FireHook = <K extends keyof CoreHooks>(name: K, ...args: Parameters<CoreHooks[K]>) => Promise<Awaited<ReturnType<CoreHooks[K]>> | undefined>;

export interface ModuleCommandContext<S> extends BaseContext {
  /** The module's stores, opened in the engine the command runs on. */
  readonly store: S;
  /** Present when the command runs inside the server (through the admin API): its hooks, to reach the live module. */
  readonly fire?: FireHook;
}

/**
 * A module's command. It runs where the stores are: inside the server when one answers on the admin
 * API for the data directory, else in the CLI process on the stores directly (without `fire`).
 */
export interface ModuleCommand<S = unknown> extends CommandSpec {
  run(ctx: ModuleCommandContext<S>, input: CommandInput): Promise<CommandResult>;
}

/** The commands of one module as the admin registry runs them. */
export function adminCommandsOf<S>(module: { readonly name: string; readonly stores?: ModuleStoresSpec<S>; readonly commands?: readonly ModuleCommand<S>[] }): StoreCommand[] {
  const spec = module.stores;
  return (module.commands ?? []).map((command): StoreCommand => ({
    name: command.name,
    summary: command.summary,
    usage: command.usage,
    args: command.args,
    options: command.options,
    ...(command.details === undefined ? {} : { details: command.details }),
    runs: 'anywhere',
    run: (ctx, input) => {
      // A module without stores gets none, as in ModuleContext.
      const store = spec === undefined ? (undefined as S) : ctx.stores.module(module.name, spec);
      const fire = ctx.live?.fire;
      return command.run({ ...ctx, store, ...(fire === undefined ? {} : { fire }) }, input);
    },
  }));
}
