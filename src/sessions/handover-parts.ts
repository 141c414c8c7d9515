// What modules keep per session outside BoundSession.flags, moved with the session when another node of the
// cluster takes it over (XEP-0198 resumption there; src/cluster/README.md, "Session hand-over"): the
// directed-presence recipients of RFC 6121 §4.6.3, the active privacy list of XEP-0016 §2.4, the rooms a
// session is in (XEP-0045). Each module gives its part as JSON on the owning node and takes it back on the
// taking node; what arrives there crossed the bus, so each module checks its own part.
import type { BoundSession } from './types.js';

export interface SessionHandOverPart {
  /**
   * The module's state of the session, as JSON; undefined when it has none. Runs on the owning node in the
   * one synchronous step that detaches the session, so nothing changes between it and the move.
   */
  export(session: BoundSession): unknown;
  /**
   * Takes the part back on the taking node, before 'session:binding' fires there. `value` is what `export`
   * gave on the other node, read back from JSON: check it before trusting it.
   */
  adopt(session: BoundSession, value: unknown): void;
}

export class SessionHandOverParts {
  private readonly parts = new Map<string, SessionHandOverPart>();

  /** Registers a module's part under its name; returns the function that removes it. */
  register(name: string, part: SessionHandOverPart): () => void {
    if (this.parts.has(name)) throw new Error(`module ${name} already takes part in session hand-overs`);
    this.parts.set(name, part);
    return () => {
      if (this.parts.get(name) === part) this.parts.delete(name);
    };
  }

  /** Every part that has something, by module name. A part that throws is left out and reported. */
  exportAll(session: BoundSession, onError: (module: string, err: unknown) => void): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, part] of this.parts) {
      try {
        const value = part.export(session);
        if (value !== undefined) out[name] = value;
      } catch (err) {
        onError(name, err);
      }
    }
    return out;
  }

  /** Gives each module its part; a module that is not running here, or that throws, is reported and skipped. */
  adoptAll(session: BoundSession, values: Readonly<Record<string, unknown>>, onError: (module: string, err: unknown) => void): void {
    for (const [name, value] of Object.entries(values)) {
      const part = this.parts.get(name);
      if (part === undefined) {
        onError(name, new Error('the module does not run on this node'));
        continue;
      }
      try {
        part.adopt(session, value);
      } catch (err) {
        onError(name, err);
      }
    }
  }
}
