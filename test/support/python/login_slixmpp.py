#!/usr/bin/python3
"""slixmpp (Debian python3-slixmpp) logs in once with one SASL mechanism, then quits.

Usage: login_slixmpp.py JID PASSWORD HOST PORT MECHANISM [TLS-MAX]   (MECHANISM '': slixmpp's own choice)
STARTTLS (certificate not verified); TLS-MAX caps the TLS version ('1.2': slixmpp 1.8 binds -PLUS to
tls-unique only, which exists on TLS 1.2 and older). Prints one JSON line: {"event": "online", "jid",
"tls"} or {"event": "error", "text"}.
"""
import json
import ssl
import sys

import slixmpp


def emit(event, **fields):
    print(json.dumps({'event': event, **fields}), flush=True)


class Login(slixmpp.ClientXMPP):
    def __init__(self, jid, password, mechanism, tls_max):
        super().__init__(jid, password, sasl_mech=mechanism or None)
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        if tls_max == '1.2':
            self.ssl_context.maximum_version = ssl.TLSVersion.TLSv1_2
        self.done = False
        self.add_event_handler('session_start', self.on_session_start)
        self.add_event_handler('failed_all_auth', lambda _s: self.finish('error', text='authentication failed'))
        self.add_event_handler('connection_failed', lambda e: self.finish('error', text=f'connection failed: {e}'))
        self.add_event_handler('disconnected', lambda _r: self.finish('error', text='disconnected before login'))

    def on_session_start(self, _event):
        self.finish('online', jid=str(self.boundjid), tls=self.socket.version() if self.socket else None)

    def finish(self, event, **fields):
        if self.done:
            return
        self.done = True
        emit(event, **fields)
        self.disconnect()
        self.loop.call_later(0.5, self.loop.stop)


def main():
    jid, password, host, port, mechanism = sys.argv[1:6]
    tls_max = sys.argv[6] if len(sys.argv) > 6 else None
    client = Login(jid, password, mechanism, tls_max)
    client.connect((host, int(port)))
    client.loop.call_later(20, lambda: client.finish('error', text='timed out'))
    client.loop.run_forever()


if __name__ == '__main__':
    main()
