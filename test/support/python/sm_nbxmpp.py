#!/usr/bin/python3
"""nbxmpp (Gajim's library, Debian python3-nbxmpp) as a stream-management client, driven over stdin/stdout.

Usage: sm_nbxmpp.py JID PASSWORD HOST PORT [--no-sm]
Logs in over TCP with STARTTLS (certificate errors ignored) with nbxmpp's built-in XEP-0198 support,
which enables SM with resume="true" after binding. Prints one JSON object per line on stdout:
  online (a fresh bind; sm-offered: the features had urn:xmpp:sm:3), sm-enabled, resumed, sm-failed, disconnected, cut, message, error.
Reads commands on stdin: `cut` (shutdown of both directions of the TCP socket, no stream close),
`send <to> <body>`, `quit`. nbxmpp resumes on its own once the application reconnects (connect() on
'disconnected' after a short back-off, as Gajim does); the driver never resumes or rebinds by hand.
--no-sm turns SM off (nbxmpp's set_sm_disabled), for a control run that reconnects with a fresh bind.
"""
import json
import sys
import threading

from gi.repository import GLib
from nbxmpp.client import Client
from nbxmpp.const import ConnectionProtocol, ConnectionType, StreamState
from nbxmpp.namespaces import Namespace
from nbxmpp.protocol import JID, Message, Presence
from nbxmpp.structs import StanzaHandler

# Clients wait a moment before reconnecting; the test's sender keeps sending meanwhile.
RECONNECT_DELAY_MS = 500


def emit(event, **fields):
    print(json.dumps({'event': event, **fields}), flush=True)


class Driver:
    def __init__(self, jid, password, host, port, sm):
        self.loop = GLib.MainLoop()
        self.quitting = False
        jid = JID.from_string(jid)
        self.client = client = Client()
        client.set_domain(jid.domain)
        client.set_username(jid.localpart)
        client.set_resource(jid.resource or 'nbxmpp')
        client.set_password(password)
        client.set_custom_host(f'{host}:{port}', ConnectionProtocol.TCP, ConnectionType.START_TLS)
        client.set_ignore_tls_errors(True)
        client.set_sm_disabled(not sm)
        client.subscribe('connected', self.on_connected)
        client.subscribe('resume-successful', lambda *_: emit('resumed', jid=str(client.get_bound_jid())))
        client.subscribe('resume-failed', lambda *_: emit('sm-failed'))
        client.subscribe('disconnected', self.on_disconnected)
        client.subscribe('connection-failed', lambda c, _s: emit('error', text=f'connection failed: {c.get_error()}'))
        client.register_handler(StanzaHandler(name='message', callback=self.on_message))
        client.register_handler(StanzaHandler(name='enabled', callback=self.on_enabled, xmlns=Namespace.STREAM_MGMT))

    def on_connected(self, client, _signal):
        client.send_stanza(Presence())
        emit('online', jid=str(client.get_bound_jid()), **{'sm-offered': client.sm_supported})

    def on_enabled(self, _client, stanza, _properties):
        emit('sm-enabled', resume=stanza.getAttr('resume') in ('true', '1'), id=stanza.getAttr('id'))

    def on_message(self, _client, stanza, _properties):
        body = stanza.getBody()
        if body is not None:
            emit('message', body=body, id=stanza.getID(), **{'from': str(stanza.getFrom())})

    def on_disconnected(self, client, _signal):
        emit('disconnected')
        if self.quitting:
            self.loop.quit()
        else:
            if client.has_error:
                emit('error', text=f'disconnected with {client.get_error()}')
            GLib.timeout_add(RECONNECT_DELAY_MS, self.reconnect)

    def reconnect(self):
        self.client.connect()
        return False

    def cut(self):
        # The socket under the TLS layer (nbxmpp.tcp.TCPConnection keeps its Gio.SocketConnection as _con).
        connection = getattr(self.client, '_con', None)
        socket_connection = getattr(connection, '_con', None)
        if socket_connection is None:
            emit('error', text='cut: not connected')
            return
        socket_connection.get_socket().shutdown(True, True)
        emit('cut')

    def command(self, line):
        parts = line.split(' ', 2)
        if parts[0] == 'cut':
            self.cut()
        elif parts[0] == 'send' and len(parts) == 3:
            self.client.send_stanza(Message(to=parts[1], body=parts[2], typ='chat'))
        elif parts[0] == 'quit' and not self.quitting:
            self.quitting = True
            if self.client.state == StreamState.DISCONNECTED:
                self.loop.quit()
            else:
                self.client.disconnect()
        elif parts[0] and parts[0] != 'quit':
            emit('error', text=f'unknown command: {line}')
        return False


def read_stdin(driver):
    for line in sys.stdin:
        GLib.idle_add(driver.command, line.strip())
    GLib.idle_add(driver.command, 'quit')


def main():
    jid, password, host, port = sys.argv[1:5]
    driver = Driver(jid, password, host, port, sm='--no-sm' not in sys.argv[5:])
    driver.client.connect()
    threading.Thread(target=read_stdin, args=(driver,), daemon=True).start()
    driver.loop.run()


if __name__ == '__main__':
    main()
