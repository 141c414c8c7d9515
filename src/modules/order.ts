// Start order from what each module depends on: a stable topological sort (a module starts after every
// module it names in `depends`, and otherwise in the order given), so stopping in reverse stops a
// module before what it relies on. A missing dependency or a cycle is a start error naming them.
import { ServerError } from '../errors.js';

export interface Dependent {
  readonly name: string;
  readonly depends?: readonly string[];
}

export function startOrder<M extends Dependent>(modules: readonly M[]): M[] {
  const byName = new Map<string, M>();
  for (const m of modules) {
    if (byName.has(m.name)) throw new ServerError('MODULE_DUPLICATE', `two modules are named "${m.name}"`);
    byName.set(m.name, m);
  }
  const missing = modules.flatMap((m) => (m.depends ?? []).filter((d) => !byName.has(d)).map((d) => `"${m.name}" depends on "${d}"`));
  if (missing.length > 0) throw new ServerError('MODULE_DEPENDENCY_MISSING', `${missing.join('; ')}, which is not loaded`);
  const placed = new Set<string>();
  const order: M[] = [];
  while (order.length < modules.length) {
    const next = modules.find((m) => !placed.has(m.name) && (m.depends ?? []).every((d) => placed.has(d)));
    if (next === undefined) throw new ServerError('MODULE_DEPENDENCY_CYCLE', `modules depend on each other: ${cycle(modules, placed, byName).join(' -> ')}`);
    placed.add(next.name);
    order.push(next);
  }
  return order;
}

/** A cycle among the modules not placed yet (each of them waits for another one of them). */
function cycle<M extends Dependent>(modules: readonly M[], placed: ReadonlySet<string>, byName: ReadonlyMap<string, M>): string[] {
  const start = modules.find((m) => !placed.has(m.name));
  const path: string[] = [];
  let current = start;
  while (current !== undefined && !path.includes(current.name)) {
    path.push(current.name);
    const waitingOn: string | undefined = (current.depends ?? []).find((d) => !placed.has(d));
    current = waitingOn === undefined ? undefined : byName.get(waitingOn);
  }
  if (current === undefined) return path;
  return [...path.slice(path.indexOf(current.name)), current.name];
}
