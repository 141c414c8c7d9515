// A lean XMPP-over-WebSocket client (RFC 7395) for the MUC broadcast benchmark: open, SASL PLAIN
// (RFC 6120 §6, RFC 4616), bind (RFC 6120 §7), enter a room (XEP-0045 §7.2), send groupchat (§7.4).
//
// No XML parser: the login and join steps match on the few strings both servers send, and the hot path
// (a reflected groupchat message) only cuts the <body/> out of the frame. Both Ratatosk (double quotes)
// and Prosody (single quotes) serialise attributes, so every pattern accepts either quote.
import WebSocket from 'ws';

export interface Target {
  host: string;
  port: number;
  path: string;
  domain: string;
}

const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
const MUC = 'http://jabber.org/protocol/muc';
const MUC_OWNER = 'http://jabber.org/protocol/muc#owner';

const SELF_PRESENCE = /code=["']110["']/;
const ROOM_CREATED = /code=["']201["']/;
const TYPE_ERROR = /type=["']error["']/;
const IQ_GET = /^<iq[^>]*type=["']get["']/;

/** Called with the body text of every groupchat message the client receives. */
export type BodyHandler = (body: string) => void;

interface Waiter {
  match: (frame: string) => boolean;
  resolve: (frame: string) => void;
  reject: (err: Error) => void;
}

export class BenchClient {
  private ws: WebSocket | undefined;
  private waiter: Waiter | undefined;
  private closedWith: Error | undefined;
  /** Frames received since the last reset (presence floods included). */
  frames = 0;
  errors = 0;
  lastError: string | undefined;
  onBody: BodyHandler | undefined;
  jid = '';

  constructor(
    private readonly target: Target,
    readonly username: string,
    private readonly password: string,
  ) {}

  async login(timeoutMs: number): Promise<void> {
    const { host, port, path, domain } = this.target;
    const ws = new WebSocket(`ws://${host}:${port}${path}`, 'xmpp', { perMessageDeflate: false });
    this.ws = ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) this.onFrame(data.toString('utf8'));
    });
    ws.on('error', (err) => this.fail(err));
    ws.on('close', (code) => this.fail(new Error(`websocket closed (${code})`)));
    const timer = setTimeout(() => this.fail(new Error(`login timed out after ${timeoutMs} ms`)), timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      const open = `<open xmlns='${FRAMING}' to='${domain}' version='1.0'/>`;
      const features = (f: string): boolean => f.includes('features');
      ws.send(open);
      await this.expect((f) => features(f) && f.includes(SASL));
      const auth = Buffer.from(`\0${this.username}\0${this.password}`, 'utf8').toString('base64');
      ws.send(`<auth xmlns='${SASL}' mechanism='PLAIN'>${auth}</auth>`);
      const answer = await this.expect((f) => f.includes('<success') || f.includes('<failure'));
      if (!answer.includes('<success')) throw new Error(`SASL PLAIN failed: ${answer}`);
      ws.send(open);
      await this.expect((f) => features(f) && f.includes(BIND));
      ws.send(`<iq xmlns='jabber:client' type='set' id='bind'><bind xmlns='${BIND}'><resource>bench</resource></bind></iq>`);
      const bound = await this.expect((f) => f.startsWith('<iq') && f.includes('<jid>'));
      this.jid = bound.slice(bound.indexOf('<jid>') + 5, bound.indexOf('</jid>'));
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Enters the room; the first occupant also accepts the default configuration (XEP-0045 §10.1.2, instant
   * room) so the others can enter. Resolves on the self-presence (status 110).
   */
  async join(room: string, nick: string, timeoutMs: number): Promise<void> {
    const timer = setTimeout(() => this.fail(new Error(`join timed out after ${timeoutMs} ms`)), timeoutMs);
    try {
      this.send(`<presence xmlns='jabber:client' to='${room}/${nick}'><x xmlns='${MUC}'><history maxstanzas='0'/></x></presence>`);
      const self = await this.expect((f) => f.startsWith('<presence') && (SELF_PRESENCE.test(f) || TYPE_ERROR.test(f)));
      if (TYPE_ERROR.test(self)) throw new Error(`join refused: ${self}`);
      if (ROOM_CREATED.test(self)) {
        this.send(`<iq xmlns='jabber:client' type='set' id='instant' to='${room}'><query xmlns='${MUC_OWNER}'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
        const result = await this.expect((f) => f.startsWith('<iq') && /id=["']instant["']/.test(f));
        if (!/type=["']result["']/.test(result)) throw new Error(`instant room refused: ${result}`);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  send(frame: string): void {
    this.ws?.send(frame);
  }

  close(): void {
    this.waiter = undefined;
    this.closedWith ??= new Error('closed by the benchmark');
    this.ws?.terminate();
  }

  private onFrame(frame: string): void {
    this.frames++;
    if (frame.startsWith('<message')) {
      const start = frame.indexOf('<body>');
      if (start >= 0 && this.onBody) {
        const end = frame.indexOf('</body>', start);
        this.onBody(frame.slice(start + 6, end));
        return;
      }
    }
    if (this.waiter?.match(frame)) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter.resolve(frame);
      return;
    }
    if (TYPE_ERROR.test(frame)) {
      this.errors++;
      this.lastError = frame.slice(0, 400);
    } else if (IQ_GET.test(frame)) {
      // XEP-0199 pings or anything else: an empty result keeps the session alive.
      const id = /id=["']([^"']*)["']/.exec(frame)?.[1] ?? '';
      const from = /from=["']([^"']*)["']/.exec(frame)?.[1];
      this.send(`<iq xmlns='jabber:client' type='result' id='${id}'${from ? ` to='${from}'` : ''}/>`);
    }
  }

  private expect(match: (frame: string) => boolean): Promise<string> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => (this.waiter = { match, resolve, reject }));
  }

  private fail(err: Error): void {
    if (this.closedWith) return;
    this.closedWith = err;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(err);
  }
}
