// Read-modify-write work that must not interleave with the same work elsewhere (a user's roster and
// subscription state): one at a time per name on this node, and, on Redis, one at a time per name in the
// whole cluster (redis-exclusive.ts). On one node the local queue is all there is.

export interface Exclusive {
  /**
   * Runs `work` once no other work under `name` runs, here or on another node. Work must not wait for other work
   * under the same name, or it waits for ever.
   */
  run<T>(name: string, work: () => Promise<T>): Promise<T>;
}

/** One at a time per name within this process, in the order asked. */
export class LocalExclusive implements Exclusive {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(name: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(name) ?? Promise.resolve();
    let release = (): void => undefined;
    const done = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => done);
    this.tails.set(name, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.tails.get(name) === tail) this.tails.delete(name);
    }
  }
}
