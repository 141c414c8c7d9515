// The way out of a client session: every stanza a session is given (send and sendText, fan-out copies
// included) passes the session's output stages before its connection writes it. Modules add stages
// per session. Stages run by `position`, lower first (nearer the router), higher last (nearer the wire):
//
//   100  client state indication (XEP-0352): holds and reorders stanzas while the client is inactive
//   900  stream management (XEP-0198): counts and keeps what goes on the wire until the client acknowledges it
//
// A stage that counts what reaches the client must come after every stage that holds, reorders or drops.
import type { Element } from '../xml/element.js';

/** A stanza on its way to the client: an element, or a serialised stanza that declares its namespace. */
export type Outbound = Element | string;

export interface OutputStage {
  readonly position: number;
  /**
   * The client acknowledges what it receives (XEP-0198) and the stage keeps everything it passed on until
   * then: what the connection could not write is among what release() returns, and a session with such a
   * stage may outlive its connection (StreamSession.keepOnDrop).
   */
  readonly keepsUntilAcknowledged?: boolean;
  /** Takes a stanza; passes it on with `next` (now or later, keeping the order), or keeps it. */
  send(stanza: Outbound, next: (stanza: Outbound) => void): void;
  /** The session ended: what the stage still holds that the client may not have, oldest first. */
  release?(): Outbound[];
}

export interface OutputStageHandle {
  /** Passes a stanza on from this stage: through the stages after it, then to the connection. */
  next(stanza: Outbound): void;
  remove(): void;
}

export class OutputPipeline {
  private stages: OutputStage[] = [];
  /** The entry point: the first stage, or the connection when there is none (the common case, one call). */
  private head: (stanza: Outbound) => void;

  constructor(private readonly sink: (stanza: Outbound) => void) {
    this.head = sink;
  }

  send(stanza: Outbound): void {
    this.head(stanza);
  }

  add(stage: OutputStage): OutputStageHandle {
    if (this.stages.includes(stage)) throw new Error('output stage added twice');
    this.stages = [...this.stages, stage].sort((a, b) => a.position - b.position);
    this.rebuild();
    return {
      next: (stanza) => this.after(stage)(stanza),
      remove: () => {
        this.stages = this.stages.filter((s) => s !== stage);
        this.rebuild();
      },
    };
  }

  /** Some stage keeps what it passed on until the client acknowledges it. */
  get acknowledged(): boolean {
    return this.stages.some((s) => s.keepsUntilAcknowledged === true);
  }

  /** What every stage holds, oldest first: the stage nearest the wire holds what went out earliest. */
  release(): Outbound[] {
    const held: Outbound[] = [];
    for (let i = this.stages.length - 1; i >= 0; i--) held.push(...(this.stages[i]?.release?.() ?? []));
    return held;
  }

  private rebuild(): void {
    const first = this.stages[0];
    this.head = first ? (stanza) => first.send(stanza, this.after(first)) : this.sink;
  }

  /** What comes after `stage`: the next stage, or the connection (a removed stage passes straight to it). */
  private after(stage: OutputStage): (stanza: Outbound) => void {
    const index = this.stages.indexOf(stage);
    const following = index === -1 ? undefined : this.stages[index + 1];
    return following ? (stanza) => following.send(stanza, this.after(following)) : this.sink;
  }
}
