// Writes made during one turn of the event loop leave together when the turn ends: a connection that
// gets several stanzas in one turn (a room's burst of messages, the features after <open/>, a join's
// history) costs one write syscall instead of one per stanza. A fan-out to N connections schedules one
// callback for all of them, not N.

/** A connection with output waiting for the end of the turn. */
export interface TurnWriter {
  /** Writes what waits; must not throw (a failure ends that connection only). */
  flushTurn(): void;
}

let due: TurnWriter[] = [];
let scheduled = false;

/** Has `writer.flushTurn()` called once the current turn's I/O callbacks and microtasks are done. */
export function flushAtTurnEnd(writer: TurnWriter): void {
  due.push(writer);
  if (scheduled) return;
  scheduled = true;
  setImmediate(flushAll);
}

function flushAll(): void {
  scheduled = false;
  const writers = due;
  due = [];
  for (const writer of writers) writer.flushTurn();
}
