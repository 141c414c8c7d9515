// XEP-0115 §5.1: the verification string, checked against the spec's own worked examples (§5.2, §5.3).
import assert from 'node:assert/strict';
import { capsInput, verificationString, type CapsForm, type CapsIdentity } from './ver.js';

describe('XEP-0115 verification string', function () {
  it('§5.2 simple generation example: Exodus 0.9.1 gives QgayPKawpkPSDYmwT/WM94uAlu0=', function () {
    const identities: CapsIdentity[] = [{ category: 'client', type: 'pc', name: 'Exodus 0.9.1' }];
    // In the order an entity might list them; the algorithm sorts.
    const features = ['http://jabber.org/protocol/muc', 'http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/caps', 'http://jabber.org/protocol/disco#items'];
    assert.equal(
      capsInput(identities, features),
      'client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<',
    );
    assert.equal(verificationString(identities, features), 'QgayPKawpkPSDYmwT/WM94uAlu0=');
  });

  it('§5.3 complex generation example: two languages and an extended form give q07IKJEyjvHSyhy//CH0CxmKi8w=', function () {
    const identities: CapsIdentity[] = [
      { category: 'client', type: 'pc', lang: 'en', name: 'Psi 0.11' },
      { category: 'client', type: 'pc', lang: 'el', name: 'Ψ 0.11' },
    ];
    const features = ['http://jabber.org/protocol/caps', 'http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/disco#items', 'http://jabber.org/protocol/muc'];
    const forms: CapsForm[] = [
      {
        formType: 'urn:xmpp:dataforms:softwareinfo',
        fields: [
          { var: 'FORM_TYPE', values: ['urn:xmpp:dataforms:softwareinfo'] },
          { var: 'ip_version', values: ['ipv4', 'ipv6'] },
          { var: 'os', values: ['Mac'] },
          { var: 'os_version', values: ['10.5.1'] },
          { var: 'software', values: ['Psi'] },
          { var: 'software_version', values: ['0.11'] },
        ],
      },
    ];
    assert.equal(
      capsInput(identities, features, forms),
      'client/pc/el/Ψ 0.11<client/pc/en/Psi 0.11<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<' +
        'http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<urn:xmpp:dataforms:softwareinfo<' +
        'ip_version<ipv4<ipv6<os<Mac<os_version<10.5.1<software<Psi<software_version<0.11<',
    );
    assert.equal(verificationString(identities, features, forms), 'q07IKJEyjvHSyhy//CH0CxmKi8w=');
  });

  it('§5.1: sorts by UTF-8 octets ("i;octet"), not by UTF-16 code units', function () {
    // In UTF-8, U+FF5E is EF BD 9E and U+1F600 is F0 9F 98 80, so U+FF5E comes first by octets;
    // in UTF-16, U+1F600 starts with the surrogate 0xD83D, which comes before 0xFF5E.
    const features = ['urn:x:\u{1F600}', 'urn:x:\uFF5E'];
    assert.equal(capsInput([], features), 'urn:x:\uFF5E<urn:x:\u{1F600}<');
    assert.ok('urn:x:\u{1F600}' < 'urn:x:\uFF5E', 'JavaScript’s own order differs, which is why it is not used');
  });
});
