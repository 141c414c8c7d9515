// One timer for many deadlines: a binary min-heap of entries, each knowing its own place, under a single
// Node timer armed for the earliest. A BOSH session has one deadline at a time (its next answer or its
// inactivity limit); a Node Timeout per session costs ~120 bytes and a timer list per distinct delay,
// an entry here one array slot.

/** Something with one deadline, kept by a DeadlineHeap. */
export interface DeadlineEntry {
  /** When it is due (ms since the epoch); Infinity when not in a heap. Set by the heap only. */
  dueAt: number;
  /** Its index in the heap's array; -1 when not in a heap. Set by the heap only. */
  heapIndex: number;
  /** Called once when dueAt has come; the entry is out of the heap by then. */
  onDue(): void;
}

export class DeadlineHeap {
  private readonly entries: DeadlineEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private readonly runDue = (): void => this.fireDue();

  get size(): number {
    return this.entries.length;
  }

  /** Sets (or moves) the entry's deadline. */
  schedule(entry: DeadlineEntry, at: number): void {
    if (entry.heapIndex === -1) {
      entry.dueAt = at;
      entry.heapIndex = this.entries.length;
      this.entries.push(entry);
      this.up(entry.heapIndex);
    } else {
      const earlier = at < entry.dueAt;
      entry.dueAt = at;
      if (earlier) this.up(entry.heapIndex);
      else this.down(entry.heapIndex);
    }
    this.arm();
  }

  /** Takes the entry out (no call to onDue). */
  cancel(entry: DeadlineEntry): void {
    const index = entry.heapIndex;
    if (index === -1) return;
    this.removeAt(index);
    this.arm();
  }

  private removeAt(index: number): void {
    const entries = this.entries;
    const removed = entries[index] as DeadlineEntry;
    const last = entries.pop() as DeadlineEntry;
    removed.heapIndex = -1;
    removed.dueAt = Infinity;
    if (last === removed) return;
    entries[index] = last;
    last.heapIndex = index;
    this.up(index);
    this.down(last.heapIndex);
  }

  private fireDue(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = Date.now();
    for (let first = this.entries[0]; first && first.dueAt <= now; first = this.entries[0]) {
      this.removeAt(0);
      first.onDue();
    }
    this.arm();
  }

  /** Keeps the one timer at the earliest deadline. */
  private arm(): void {
    const first = this.entries[0];
    const at = first ? first.dueAt : Infinity;
    if (at === this.timerAt) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (at === Infinity) return;
    this.timer = setTimeout(this.runDue, Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  private up(index: number): void {
    const entries = this.entries;
    const entry = entries[index] as DeadlineEntry;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = entries[parentIndex] as DeadlineEntry;
      if (parent.dueAt <= entry.dueAt) break;
      entries[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    entries[index] = entry;
    entry.heapIndex = index;
  }

  private down(index: number): void {
    const entries = this.entries;
    const entry = entries[index] as DeadlineEntry;
    const count = entries.length;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= count) break;
      const right = child + 1;
      if (right < count && (entries[right] as DeadlineEntry).dueAt < (entries[child] as DeadlineEntry).dueAt) child = right;
      const smaller = entries[child] as DeadlineEntry;
      if (smaller.dueAt >= entry.dueAt) break;
      entries[index] = smaller;
      smaller.heapIndex = index;
      index = child;
    }
    entries[index] = entry;
    entry.heapIndex = index;
  }
}
