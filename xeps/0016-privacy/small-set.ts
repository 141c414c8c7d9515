// A set of strings held in a plain array while it is small, in a Set once it grows. Every session keeps one or two
// (the full JIDs whose presence reached it, and those it sent directed presence to: cache.ts), and most hold a
// handful: at ten entries a Set's hash table costs about 350 bytes, the array under 100. Past SMALL entries the
// linear scans would cost more than the memory saves, so the entries move to a Set and stay there.

/** Entries kept in the array; one more moves them to a Set. */
const SMALL = 16;

export class SmallStringSet implements Iterable<string> {
  private list: string[] | undefined;
  private set: Set<string> | undefined;

  constructor(entries?: Iterable<string>) {
    if (entries !== undefined) for (const entry of entries) this.add(entry);
  }

  get size(): number {
    return this.set !== undefined ? this.set.size : this.list?.length ?? 0;
  }

  has(value: string): boolean {
    if (this.set !== undefined) return this.set.has(value);
    return this.list !== undefined && this.list.includes(value);
  }

  add(value: string): this {
    if (this.set !== undefined) {
      this.set.add(value);
      return this;
    }
    const list = (this.list ??= []);
    if (list.includes(value)) return this;
    if (list.length < SMALL) list.push(value);
    else {
      this.set = new Set(list).add(value);
      this.list = undefined;
    }
    return this;
  }

  delete(value: string): boolean {
    if (this.set !== undefined) return this.set.delete(value);
    const list = this.list;
    const at = list === undefined ? -1 : list.indexOf(value);
    if (list === undefined || at < 0) return false;
    // Order is kept, as a Set keeps insertion order.
    list.splice(at, 1);
    return true;
  }

  /** Entries may be deleted while iterating, as with a Set: the array is iterated from a copy. */
  [Symbol.iterator](): Iterator<string> {
    if (this.set !== undefined) return this.set.values();
    return (this.list === undefined ? [] : this.list.slice()).values();
  }
}
