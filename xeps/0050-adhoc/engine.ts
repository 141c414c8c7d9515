// XEP-0050 Ad-Hoc Commands (version 1.3.0): command sessions (§3.3 lifetime), actions (§3.4, §4.1),
// stages with data forms (§2.4.2, §3.5), notes (§4.3) and the error conditions of §4.4.
import { randomBytes } from 'node:crypto';
import { StanzaError, type StanzaErrorCondition, type StanzaErrorType } from '../../src/errors.js';
import type { Jid } from '../../src/jid.js';
import { xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { FormValues, requiredFields } from './data-form.js';

export type CommandAction = 'execute' | 'cancel' | 'prev' | 'next' | 'complete';
const ACTIONS: ReadonlySet<string> = new Set<CommandAction>(['execute', 'cancel', 'prev', 'next', 'complete']);

export interface Note {
  type: 'info' | 'warn' | 'error';
  text: string;
}

/** One form the requester fills in on the way to completing a command. */
export interface CommandStage {
  /** The form (XEP-0004 type "form"); `values` holds what was submitted so far, to show again after 'prev'. */
  form(values: FormValues): Element;
}

export interface CommandOutcome {
  /** A data form of type "result". */
  result?: Element;
  notes?: Note[];
}

export interface AdHocCommand {
  /** Unique among the server's commands (§3.2). */
  readonly node: string;
  /** The label in the command list (§2.2). */
  readonly name: string;
  /** The FORM_TYPE the command's forms carry; a submission naming another one is refused. */
  readonly formType?: string;
  /** Stages in order; none for a command that completes at once (§2.4.1). */
  readonly stages: readonly CommandStage[];
  /** Who may see and run the command. */
  allowed(requester: Jid): boolean;
  /** Runs the command with everything submitted; throws a StanzaError to refuse (the session stays open for another try). */
  complete(values: FormValues, requester: Jid): Promise<CommandOutcome> | CommandOutcome;
}

export interface EngineOptions {
  /** How long a session may sit idle before it expires. */
  sessionTtlMs: number;
  /** Open sessions one requester may hold; a new one ends the least recently used. */
  maxSessionsPerRequester: number;
  now?: () => number;
  newSessionId?: () => string;
}

interface CommandSession {
  readonly id: string;
  readonly command: AdHocCommand;
  readonly requester: string;
  stage: number;
  /** The latest submission of each stage reached so far; a new one replaces its stage's. */
  readonly submitted: FormValues[];
  touched: number;
}

/** Session ids that ended are remembered this long, so reusing one is "expired" rather than "unknown". */
const MAX_REMEMBERED_ENDINGS = 10_000;

/** Everything submitted, later stages' fields replacing earlier ones of the same name. */
function valuesOf(session: CommandSession): FormValues {
  return session.submitted.reduce((all, stage) => all.merge(stage), new FormValues());
}

/** A bad-request or not-allowed with the XEP-0050 application condition (§4.4). */
export function commandError(condition: StanzaErrorCondition, app: string, text: string, type: StanzaErrorType): StanzaError {
  return new StanzaError(condition, text, type, xml(app, { xmlns: NS.commands }));
}

export class CommandEngine {
  private readonly commands = new Map<string, AdHocCommand>();
  private readonly sessions = new Map<string, CommandSession>();
  /** Ended session ids and when they ended, oldest first. */
  private readonly ended = new Map<string, number>();
  private readonly now: () => number;
  private readonly newSessionId: () => string;

  constructor(private readonly options: EngineOptions) {
    this.now = options.now ?? Date.now;
    this.newSessionId = options.newSessionId ?? (() => randomBytes(12).toString('base64url'));
  }

  add(command: AdHocCommand): void {
    if (this.commands.has(command.node)) throw new Error(`two ad-hoc commands with node ${command.node}`);
    this.commands.set(command.node, command);
  }

  /** The commands `requester` may run (§2.2: "not required to send the same list of commands to all requesters"). */
  available(requester: Jid): AdHocCommand[] {
    return [...this.commands.values()].filter((c) => c.allowed(requester));
  }

  /** The command at `node` if `requester` may run it. */
  visible(node: string, requester: Jid): AdHocCommand | undefined {
    const command = this.commands.get(node);
    return command?.allowed(requester) ? command : undefined;
  }

  get openSessions(): number {
    return this.sessions.size;
  }

  /** Answers one <command/> of an iq set with the <command/> of the result, or throws the §4.4 error. */
  async execute(requester: Jid, request: Element): Promise<Element> {
    const node = request.attrs.node;
    if (node === undefined || node === '') throw new StanzaError('bad-request', "a command needs a 'node' (§4.1)");
    const given = request.attrs.action ?? 'execute';
    if (!ACTIONS.has(given)) throw commandError('bad-request', 'malformed-action', `unknown action "${given}"`, 'modify');
    const action = given as CommandAction;
    const command = this.commands.get(node);
    if (!command) throw new StanzaError('item-not-found', `no command "${node}"`, 'cancel');
    if (!command.allowed(requester)) throw new StanzaError('forbidden', 'you may not run this command', 'cancel');

    const sessionId = request.attrs.sessionid;
    if (sessionId === undefined) {
      if (action !== 'execute') throw commandError('bad-request', 'bad-action', `"${action}" needs a session; start one with "execute"`, 'modify');
      return this.start(command, requester);
    }
    const session = this.resume(sessionId, command, requester);
    if (action === 'cancel') {
      this.end(session.id);
      return this.reply(session.command, session.id, 'canceled');
    }
    const last = session.stage === command.stages.length - 1;
    const step = action === 'execute' ? (last ? 'complete' : 'next') : action;
    if (step === 'prev') {
      if (session.stage === 0) throw commandError('bad-request', 'bad-action', 'this is the first stage', 'modify');
      session.stage--;
      return this.stageReply(session);
    }
    if ((step === 'next' && last) || (step === 'complete' && !last)) {
      throw commandError('bad-request', 'bad-action', `"${step}" is not allowed at this stage`, 'modify');
    }
    session.submitted[session.stage] = this.submission(request, command, command.stages[session.stage]);
    if (step === 'next') {
      session.stage++;
      return this.stageReply(session);
    }
    const outcome = await command.complete(valuesOf(session), requester);
    this.end(session.id);
    return this.reply(command, session.id, 'completed', outcome.notes, outcome.result);
  }

  /** Ends sessions idle for longer than the TTL and forgets old endings. */
  expire(): void {
    const now = this.now();
    for (const session of [...this.sessions.values()]) {
      if (now - session.touched > this.options.sessionTtlMs) this.end(session.id);
    }
    for (const [id, at] of this.ended) {
      if (now - at <= this.options.sessionTtlMs) break;
      this.ended.delete(id);
    }
  }

  /** Ends the sessions of a requester that went away. */
  forget(requester: Jid): void {
    const key = requester.toString();
    for (const session of [...this.sessions.values()]) if (session.requester === key) this.end(session.id);
  }

  private start(command: AdHocCommand, requester: Jid): Element | Promise<Element> {
    const id = this.newSessionId();
    if (command.stages.length === 0) return this.completeAtOnce(command, requester, id);
    const mine = [...this.sessions.values()].filter((s) => s.requester === requester.toString());
    if (mine.length >= this.options.maxSessionsPerRequester) {
      const oldest = mine.reduce((a, b) => (b.touched < a.touched ? b : a));
      this.end(oldest.id);
    }
    const session: CommandSession = { id, command, requester: requester.toString(), stage: 0, submitted: [], touched: this.now() };
    this.sessions.set(id, session);
    return this.stageReply(session);
  }

  private async completeAtOnce(command: AdHocCommand, requester: Jid, id: string): Promise<Element> {
    const outcome = await command.complete(new FormValues(), requester);
    this.remember(id);
    return this.reply(command, id, 'completed', outcome.notes, outcome.result);
  }

  /** The open session `id` of this requester and command, touched; or the §4.4 error. */
  private resume(id: string, command: AdHocCommand, requester: Jid): CommandSession {
    const session = this.sessions.get(id);
    if (!session) {
      if (this.ended.has(id)) throw commandError('not-allowed', 'session-expired', 'the session has ended', 'cancel');
      throw commandError('bad-request', 'bad-sessionid', 'no such session', 'modify');
    }
    // §3.3: a session is valid only between one requester/responder pair, and for its own command.
    if (session.requester !== requester.toString() || session.command !== command) {
      throw commandError('bad-request', 'bad-sessionid', 'the session belongs to another requester or command', 'modify');
    }
    const now = this.now();
    if (now - session.touched > this.options.sessionTtlMs) {
      this.end(id);
      throw commandError('not-allowed', 'session-expired', 'the session timed out', 'cancel');
    }
    session.touched = now;
    return session;
  }

  /** The data form submitted at the current stage, checked against the stage's form. */
  private submission(request: Element, command: AdHocCommand, stage: CommandStage | undefined): FormValues {
    const x = request.getChild('x', NS.dataForms);
    const values = x ? FormValues.read(x) : undefined;
    if (!values) throw commandError('bad-request', 'bad-payload', 'submit the form of this stage (a jabber:x:data form of type submit)', 'modify');
    const formType = values.single('FORM_TYPE');
    if (command.formType !== undefined && formType !== undefined && formType !== command.formType) {
      throw commandError('bad-request', 'bad-payload', `the form must be of type ${command.formType}`, 'modify');
    }
    if (stage) {
      const missing = requiredFields(stage.form(values)).filter((name) => !values.has(name));
      if (missing.length > 0) throw commandError('bad-request', 'bad-payload', `required: ${missing.join(', ')}`, 'modify');
    }
    return values;
  }

  private stageReply(session: CommandSession): Element {
    const { command, stage } = session;
    const stages = command.stages.length;
    const last = stage === stages - 1;
    // §3.4: the actions of each stage, and which one "execute" stands for (as in §2.4.2's examples).
    const actions = xml('actions', { execute: last ? 'complete' : 'next' }, stage > 0 ? xml('prev') : undefined, last ? xml('complete') : xml('next'));
    const form = command.stages[stage]?.form(valuesOf(session));
    return this.reply(command, session.id, 'executing', undefined, form, actions);
  }

  private reply(command: AdHocCommand, id: string, status: 'executing' | 'completed' | 'canceled', notes?: readonly Note[], payload?: Element, actions?: Element): Element {
    const el = xml('command', { xmlns: NS.commands, node: command.node, sessionid: id, status }, actions);
    for (const note of notes ?? []) el.cnode(xml('note', { type: note.type }, note.text));
    if (payload) el.cnode(payload);
    return el;
  }

  private end(id: string): void {
    this.sessions.delete(id);
    this.remember(id);
  }

  private remember(id: string): void {
    this.ended.delete(id);
    this.ended.set(id, this.now());
    if (this.ended.size > MAX_REMEMBERED_ENDINGS) {
      const oldest = this.ended.keys().next();
      if (!oldest.done) this.ended.delete(oldest.value);
    }
  }
}
