#!/usr/bin/python3
"""slixmpp (Debian python3-slixmpp) as a stream-management client, driven over stdin/stdout.

Usage: sm_slixmpp.py JID PASSWORD HOST PORT [--no-sm]
Logs in over TCP with STARTTLS (certificate not verified) and enables XEP-0198 with resumption through
slixmpp's own plugin xep_0198. Prints one JSON object per line on stdout:
  online (a fresh bind; sm-offered: the features had urn:xmpp:sm:3), sm-enabled, resumed, sm-failed, disconnected, cut, message, error.
Reads commands on stdin: `cut` (shutdown(SHUT_RDWR) of the TCP socket, no stream close),
`send <to> <body>`, `quit`. slixmpp resumes on its own once the application reconnects (connect()
on 'disconnected' after a short back-off, as slixmpp applications do); the driver never resumes or
rebinds by hand.
--no-sm leaves the plugin out, for a control run that reconnects with a fresh bind.
"""
import asyncio
import json
import socket
import ssl
import sys
import threading

import slixmpp
from slixmpp.stanza import StreamFeatures

# Clients wait a moment before reconnecting; the test's sender keeps sending meanwhile.
RECONNECT_DELAY_S = 0.5


def emit(event, **fields):
    print(json.dumps({'event': event, **fields}), flush=True)


class Driver(slixmpp.ClientXMPP):
    def __init__(self, jid, password, address, sm):
        super().__init__(jid, password)
        self.address_to_use = address
        self.quitting = False
        self.sm_offered = False
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        if sm:
            self.register_plugin('xep_0198')
        self.add_filter('in', self.note_features)
        self.add_event_handler('session_start', self.on_session_start)
        self.add_event_handler('sm_enabled', lambda s: emit('sm-enabled', resume=s['resume'] in ('true', '1', True), id=s['id']))
        self.add_event_handler('session_resumed', lambda _s: emit('resumed', jid=str(self.boundjid)))
        self.add_event_handler('sm_failed', lambda _s: emit('sm-failed'))
        self.add_event_handler('disconnected', self.on_disconnected)
        self.add_event_handler('connection_failed', lambda e: emit('error', text=f'connection failed: {e}'))
        self.add_event_handler('failed_all_auth', lambda _s: emit('error', text='authentication failed'))
        self.add_event_handler('message', self.on_message)

    def note_features(self, stanza):
        if isinstance(stanza, StreamFeatures):
            self.sm_offered = stanza.xml.find('{urn:xmpp:sm:3}sm') is not None
        return stanza

    def on_session_start(self, _event):
        self.send_presence()
        emit('online', jid=str(self.boundjid), **{'sm-offered': self.sm_offered})

    def on_message(self, msg):
        if msg['body']:
            emit('message', body=msg['body'], id=msg['id'], **{'from': str(msg['from'])})

    def on_disconnected(self, _reason):
        emit('disconnected')
        if not self.quitting:
            self.loop.call_later(RECONNECT_DELAY_S, self.connect, self.address_to_use)

    def cut(self):
        sock = self.transport.get_extra_info('socket') if self.transport else None
        if sock is None:
            emit('error', text='cut: not connected')
            return
        sock.shutdown(socket.SHUT_RDWR)
        emit('cut')

    def command(self, line):
        parts = line.split(' ', 2)
        if parts[0] == 'cut':
            self.cut()
        elif parts[0] == 'send' and len(parts) == 3:
            self.send_message(mto=parts[1], mbody=parts[2], mtype='chat')
        elif parts[0] == 'quit':
            if not self.quitting:
                self.quitting = True
                self.disconnect()
        elif parts[0]:
            emit('error', text=f'unknown command: {line}')


def read_stdin(loop, driver):
    for line in sys.stdin:
        loop.call_soon_threadsafe(driver.command, line.strip())
    loop.call_soon_threadsafe(driver.command, 'quit')


def main():
    jid, password, host, port = sys.argv[1:5]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    address = (host, int(port))
    driver = Driver(jid, password, address, sm='--no-sm' not in sys.argv[5:])
    driver.connect(address)
    threading.Thread(target=read_stdin, args=(loop, driver), daemon=True).start()
    loop.run_until_complete(until_quit(driver))


async def until_quit(driver):
    while not (driver.quitting and driver.transport is None):
        await asyncio.sleep(0.05)


if __name__ == '__main__':
    main()
