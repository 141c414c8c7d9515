// Incoming stanzas of a test client: each goes to the first waiter it matches, else into a backlog
// that later `next()` calls search first.
export class Mailbox<T> {
  private readonly waiters = new Set<{ match: (item: T) => boolean; resolve: (item: T) => void }>();
  private readonly backlog: T[] = [];

  deliver(item: T): void {
    for (const w of this.waiters) {
      if (w.match(item)) {
        this.waiters.delete(w);
        w.resolve(item);
        return;
      }
    }
    this.backlog.push(item);
  }

  next(match: (item: T) => boolean, timeoutMs = 5000): Promise<T> {
    const index = this.backlog.findIndex(match);
    if (index !== -1) return Promise.resolve(this.backlog.splice(index, 1)[0] as T);
    return new Promise<T>((resolve, reject) => {
      const waiter = {
        match,
        resolve: (item: T) => {
          clearTimeout(timer);
          resolve(item);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no matching stanza within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }
}
