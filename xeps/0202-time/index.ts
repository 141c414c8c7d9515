// XEP-0202 Entity Time 2.0: the server answers a time request for itself (§3, Examples 1-2) with its
// offset from UTC (<tzo>) and the UTC time (<utc>), both in the XEP-0082 profiles; disco#info advertises
// the feature (§4). Requests to users' JIDs go to their clients, like every other iq to a full JID.
import { defineModule } from '../../src/modules/api.js';
import { xml, type Element } from '../../src/xml/element.js';

export const TIME = 'urn:xmpp:time';

/** XEP-0082 TZD: "+hh:mm" / "-hh:mm" for a Date.getTimezoneOffset() value (minutes behind UTC). */
export function timezoneOffset(minutesBehindUtc: number): string {
  const ahead = -minutesBehindUtc;
  const sign = ahead < 0 ? '-' : '+';
  const abs = Math.abs(ahead);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** The <time/> answer for the instant `now` (XEP-0082 DateTime in UTC, with milliseconds). */
export function timeElement(now: Date): Element {
  return xml('time', { xmlns: TIME }, xml('tzo', null, timezoneOffset(now.getTimezoneOffset())), xml('utc', null, now.toISOString()));
}

export default defineModule({
  name: 'time',
  specs: [{ id: 'XEP-0202', title: 'Entity Time', version: '2.0', scope: 'the server\u2019s own time and offset from UTC', status: 'complete' }],
  setup(ctx) {
    ctx.addFeature(TIME);
    ctx.onIq('get', 'host', TIME, 'time', () => timeElement(new Date()));
  },
});
