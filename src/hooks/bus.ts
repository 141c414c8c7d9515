// A typed hook bus with priorities (higher runs first), modelled on MongooseIM's gen_hook:
// `fire` stops at the first handler that returns a value, `fold` threads an accumulator
// through every handler, `emit` notifies all. A handler that throws is logged and skipped, except
// that `fire` passes StoreUnavailableError on: the answer is unknown, and the caller owes a 'wait' error.
import type { Logger } from '../observability/log.js';
import { StoreUnavailableError } from '../storage/types.js';

type Handler = (...args: never[]) => unknown;

interface Registration {
  readonly handler: Handler;
  readonly priority: number;
  readonly owner: string;
}

export class HookBus<M extends { [K in keyof M]: Handler }> {
  private readonly handlers = new Map<keyof M, Registration[]>();

  constructor(private readonly log: Logger) {}

  /**
   * Registers a handler; returns the function that removes it. Lists are replaced, never changed in place, so a
   * call under way keeps the list it started with and the hot path needs no copy per call.
   */
  on<K extends keyof M>(name: K, handler: M[K], priority = 0, owner = 'core'): () => void {
    const reg: Registration = { handler, priority, owner };
    this.handlers.set(name, [...(this.handlers.get(name) ?? []), reg].sort((a, b) => b.priority - a.priority));
    return () => {
      const current = this.handlers.get(name);
      if (current?.includes(reg)) this.handlers.set(name, current.filter((r) => r !== reg));
    };
  }

  has(name: keyof M): boolean {
    return (this.handlers.get(name)?.length ?? 0) > 0;
  }

  /** Calls handlers in priority order until one returns something other than undefined. */
  async fire<K extends keyof M>(name: K, ...args: Parameters<M[K]>): Promise<Awaited<ReturnType<M[K]>> | undefined> {
    const list = this.handlers.get(name);
    if (!list) return undefined;
    for (const reg of list) {
      try {
        const raw = (reg.handler as (...a: Parameters<M[K]>) => unknown)(...args);
        const result = (isThenable(raw) ? await raw : raw) as Awaited<ReturnType<M[K]>> | undefined;
        if (result !== undefined) return result;
      } catch (err) {
        if (err instanceof StoreUnavailableError) throw err;
        this.log.error({ err, hook: String(name), module: reg.owner }, 'hook handler failed; skipped');
      }
    }
    return undefined;
  }

  /** Calls every handler; none can stop the others. */
  async emit<K extends keyof M>(name: K, ...args: Parameters<M[K]>): Promise<void> {
    const list = this.handlers.get(name);
    if (!list) return;
    for (const reg of list) {
      try {
        const result = (reg.handler as (...a: Parameters<M[K]>) => unknown)(...args);
        // Most handlers return at once for most calls (a message that is not theirs): no promise hop for those.
        if (isThenable(result)) await result;
      } catch (err) {
        this.log.error({ err, hook: String(name), module: reg.owner }, 'hook handler failed; skipped');
      }
    }
  }

  /**
   * emit without a promise when no handler returns one (the hot path: a message most listeners pass over):
   * undefined once every handler has run, else a promise of the rest, run in order as emit runs them.
   */
  emitNow<K extends keyof M>(name: K, ...args: Parameters<M[K]>): Promise<void> | undefined {
    const list = this.handlers.get(name);
    if (!list) return undefined;
    for (let i = 0; i < list.length; i++) {
      const reg = list[i] as Registration;
      try {
        const result = (reg.handler as (...a: Parameters<M[K]>) => unknown)(...args);
        if (isThenable(result)) return this.emitRest(name, list, i, result, args);
      } catch (err) {
        this.log.error({ err, hook: String(name), module: reg.owner }, 'hook handler failed; skipped');
      }
    }
    return undefined;
  }

  /** emitNow's continuation: waits for handler `index`'s result, then calls the handlers after it. */
  private async emitRest<K extends keyof M>(name: K, list: readonly Registration[], index: number, pending: PromiseLike<unknown>, args: Parameters<M[K]>): Promise<void> {
    for (let i = index; i < list.length; i++) {
      const reg = list[i] as Registration;
      try {
        const result = i === index ? pending : (reg.handler as (...a: Parameters<M[K]>) => unknown)(...args);
        if (isThenable(result)) await result;
      } catch (err) {
        this.log.error({ err, hook: String(name), module: reg.owner }, 'hook handler failed; skipped');
      }
    }
  }

  /** Threads the first argument (the accumulator) through every handler; each returns the new value. */
  async fold<K extends keyof M>(name: K, ...args: Parameters<M[K]>): Promise<Parameters<M[K]>[0]> {
    const list = this.handlers.get(name);
    let acc = args[0] as Parameters<M[K]>[0];
    if (!list) return acc;
    const rest = args.slice(1);
    for (const reg of list) {
      try {
        const raw = (reg.handler as (...a: unknown[]) => unknown)(acc, ...rest);
        acc = (isThenable(raw) ? await raw : raw) as Parameters<M[K]>[0];
      } catch (err) {
        this.log.error({ err, hook: String(name), module: reg.owner }, 'hook handler failed; skipped');
      }
    }
    return acc;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
