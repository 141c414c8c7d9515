// XEP-0352 Client State Indication (urn:xmpp:csi:0), version 1.0.0: the stream feature (§4.1), <active/>
// and <inactive/> (§4.2, no reply), in order with the stanzas around them (§5.1), the state not kept across
// stream resumption (§5.2), and what the server holds while the client is inactive (§3.2: ours, README).
// The core hands the module the stream's non-stanza elements (src/stream/stream-elements.ts); the holding is
// an output stage of the session (src/sessions/output.ts; stage.ts here), added at the first indication.
import { StreamError } from '../../src/errors.js';
import { defineModule, type BoundSession, type ClientStream, type OutputStageHandle, type StreamSession } from '../../src/modules/api.js';
import { xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { csiConfig } from './settings.js';
import { CsiStage } from './stage.js';

interface Indicated {
  readonly stage: CsiStage;
  readonly handle: OutputStageHandle;
}

export default defineModule({
  name: 'client-state-indication',
  specs: [
    {
      id: 'XEP-0352',
      title: 'Client State Indication',
      version: '1.0.0',
      scope: 'while a client is inactive: presence updates held (the latest per contact), messages without a body (chat states, receipts, markers) and groupchat that does not mention the user held in order, up to csi.max_held; messages with a body, encrypted ones, call invitations, mentions, iq and subscription requests go out at once after what is held; everything held goes out on <active/> and on resumption, or back as undelivered when the session ends',
      status: 'complete',
    },
  ],
  config: csiConfig,
  setup(ctx) {
    // Keyed by session object (hooks hand over the same objects); only sessions that indicated a state.
    const indicated = new Map<BoundSession, Indicated>();

    const stageOf = (session: StreamSession): CsiStage => {
      const known = indicated.get(session);
      if (known) return known.stage;
      const stage = new CsiStage(ctx.settings.maxHeld);
      const handle = session.output.add(stage);
      stage.attach(handle);
      indicated.set(session, { stage, handle });
      return stage;
    };

    ctx.hook('stream:features', (features, context) => (context.authenticated ? [...features, xml('csi', { xmlns: NS.csi })] : features));

    // Attributes and children are ignored: the schema (§9) has none, and XMPP ignores what it does not understand.
    const indicate = (element: Element, stream: ClientStream): void => {
      if (element.name !== 'active' && element.name !== 'inactive') {
        return stream.fail(new StreamError('unsupported-stanza-type', `<${element.name}/> is not a client state indication`));
      }
      // The state is that of a bound session's stanzas; before bind the stream answers as to any element then.
      const session = stream.session;
      if (!session) return stream.fail(new StreamError('not-authorized', `bind a resource first: <${element.name}/> sets the state of a bound session`));
      // Synchronous, so that what the next element causes goes out after the flush (§5.1). An <active/> adds the
      // stage too: from then on it learns the user's room nicknames, which tell mentions once it is inactive.
      if (element.name === 'inactive') stageOf(session).inactivate();
      else stageOf(session).activate();
    };
    ctx.onStreamElement(NS.csi, indicate);
    // XEP-0386 §2.3: the initial state given inline in Bind2.
    ctx.onBind2Inline(NS.csi, indicate);

    // §5.2: a resumed stream starts active; what was held goes out after what stream management re-sent.
    ctx.hook('session:resumed', (session) => indicated.get(session)?.stage.activate());

    // The stage stays in the ended session's pipeline: its release() hands what it holds back as undelivered.
    ctx.hook('session:closed', (session) => {
      indicated.delete(session);
    });

    ctx.onStop(() => {
      for (const { stage, handle } of indicated.values()) {
        stage.activate();
        handle.remove();
      }
      indicated.clear();
    });
  },
});
