#!/usr/bin/python3
"""Gajim's nbxmpp (Debian python3-nbxmpp) logs in once with the SASL mechanisms given, then quits.

Usage: login_nbxmpp.py JID PASSWORD HOST PORT MECHANISM[,MECHANISM...] [direct]
STARTTLS, or direct TLS with 'direct' (certificate not verified). nbxmpp 4.2 verifies the server's
SCRAM signature and never uses -PLUS (it discards those mechanisms). Prints one JSON line:
{"event": "online", "jid", "mechanism"} or {"event": "error", "text"}.
"""
import json
import sys

from gi.repository import GLib
from nbxmpp.client import Client
from nbxmpp.const import ConnectionProtocol, ConnectionType, StreamState
from nbxmpp.protocol import JID


def emit(event, **fields):
    print(json.dumps({'event': event, **fields}), flush=True)


def main():
    jid, password, host, port, mechanisms = sys.argv[1:6]
    direct = len(sys.argv) > 6 and sys.argv[6] == 'direct'
    loop = GLib.MainLoop()
    jid = JID.from_string(jid)
    client = Client()
    client.set_domain(jid.domain)
    client.set_username(jid.localpart)
    client.set_resource('nbxmpp')
    client.set_password(password)
    client.set_mechs(set(mechanisms.split(',')))
    client.set_custom_host(f'{host}:{port}', ConnectionProtocol.TCP, ConnectionType.DIRECT_TLS if direct else ConnectionType.START_TLS)
    client.set_ignore_tls_errors(True)
    client.set_sm_disabled(True)
    state = {'done': False}

    def finish(event, **fields):
        if state['done']:
            return
        state['done'] = True
        emit(event, **fields)
        if client.state == StreamState.DISCONNECTED:
            loop.quit()
        else:
            client.disconnect()

    def on_connected(c, _signal):
        # The SASL module keeps the mechanism it chose.
        mechanism = getattr(getattr(c, '_sasl', None), '_mechanism', None)
        finish('online', jid=str(c.get_bound_jid()), mechanism=getattr(mechanism, 'name', None))

    def on_disconnected(c, _signal):
        if not state['done']:
            finish('error', text=f'disconnected: {c.get_error()}')
        loop.quit()

    client.subscribe('connected', on_connected)
    client.subscribe('disconnected', on_disconnected)
    client.subscribe('connection-failed', lambda c, _s: finish('error', text=f'connection failed: {c.get_error()}'))
    client.connect()
    GLib.timeout_add_seconds(20, lambda: finish('error', text='timed out') or False)
    loop.run()


if __name__ == '__main__':
    main()
