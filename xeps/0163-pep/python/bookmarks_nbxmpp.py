#!/usr/bin/python3
"""nbxmpp (Gajim's library, Debian python3-nbxmpp) stores and reads bookmarks, one run, as Gajim does.

Usage: bookmarks_nbxmpp.py JID PASSWORD HOST PORT
Logs in over TCP with STARTTLS (certificate errors ignored), then with nbxmpp's own bookmark modules:
stores two XEP-0402 bookmarks (NativeBookmarks.store_bookmarks: publish with Gajim's publish-options) and
reads them back (request_bookmarks) until both are there; reads the XEP-0048 list from private storage
(PrivateBookmarks.request_bookmarks); stores a XEP-0048 list (PrivateBookmarks.store_bookmarks) and reads
XEP-0402 again; retracts one (NativeBookmarks.retract_bookmark). Prints one JSON object per line:
  native / private / native-after-private / native-after-retract {bookmarks: [{jid, name, nick, autojoin}]},
  error {text}, done.
"""
import json
import logging
import os
import sys

from gi.repository import GLib
from nbxmpp.client import Client
from nbxmpp.const import ConnectionProtocol, ConnectionType
from nbxmpp.protocol import JID
from nbxmpp.structs import BookmarkData

POLL_MS = 100
POLLS = 30


def emit(event, **fields):
    print(json.dumps({'event': event, **fields}), flush=True)


def as_json(bookmarks):
    return sorted(({'jid': str(b.jid), 'name': b.name, 'nick': b.nick, 'autojoin': b.autojoin} for b in bookmarks), key=lambda b: b['jid'])


class Driver:
    def __init__(self, jid, password, host, port):
        self.loop = GLib.MainLoop()
        jid = JID.from_string(jid)
        self.domain = jid.domain
        self.client = client = Client()
        client.set_domain(jid.domain)
        client.set_username(jid.localpart)
        client.set_resource('gajim')
        client.set_password(password)
        client.set_custom_host(f'{host}:{port}', ConnectionProtocol.TCP, ConnectionType.START_TLS)
        client.set_ignore_tls_errors(True)
        client.subscribe('connected', self.on_connected)
        client.subscribe('disconnected', lambda *_: self.loop.quit())
        client.subscribe('connection-failed', lambda c, _s: self.fail(f'connection failed: {c.get_error()}'))
        # nbxmpp holds task callbacks by weak reference: the driver keeps them alive.
        self.callbacks = []
        self.native = client.get_module('NativeBookmarks')
        self.private = client.get_module('PrivateBookmarks')

    def room(self, name):
        return JID.from_string(f'{name}@conference.{self.domain}')

    def fail(self, text):
        emit('error', text=text)
        self.loop.quit()

    def result(self, task):
        try:
            return task.finish()
        except Exception as error:  # nbxmpp raises its StanzaError / MalformedStanzaError subclasses
            self.fail(f'{type(error).__name__}: {error}')
            raise

    def on_connected(self, _client, _signal):
        self.native.store_bookmarks([
            BookmarkData(jid=self.room('council'), name='Council', nick='gajim', autojoin=True),
            BookmarkData(jid=self.room('garden'), name='Garden'),
        ])
        self.poll('native', 2, self.read_private)

    def keep(self, callback):
        self.callbacks.append(callback)
        return callback

    def poll(self, event, count, then, tries=POLLS):
        def done(task):
            bookmarks = self.result(task)
            if len(bookmarks) == count or tries <= 1:
                emit(event, bookmarks=as_json(bookmarks))
                then()
            else:
                GLib.timeout_add(POLL_MS, lambda: self.poll(event, count, then, tries - 1) and False)
        self.native.request_bookmarks(callback=self.keep(done))

    def read_private(self):
        def done(task):
            emit('private', bookmarks=as_json(self.result(task)))
            self.store_private()
        self.private.request_bookmarks(callback=self.keep(done))

    def store_private(self):
        def done(task):
            self.result(task)
            self.poll('native-after-private', 3, self.retract)
        self.private.store_bookmarks([
            BookmarkData(jid=self.room('council'), name='Council', nick='gajim', autojoin=True),
            BookmarkData(jid=self.room('garden'), name='Garden'),
            BookmarkData(jid=self.room('library'), name='Library', nick='reader', autojoin=True),
        ], callback=self.keep(done))

    def retract(self):
        def done(task):
            self.result(task)
            self.poll('native-after-retract', 2, self.finish)
        self.native.retract_bookmark(self.room('garden'), callback=self.keep(done))

    def finish(self):
        emit('done')
        self.client.disconnect()


def main():
    if os.environ.get('NBXMPP_DEBUG'):
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    jid, password, host, port = sys.argv[1:5]
    driver = Driver(jid, password, host, port)
    driver.client.connect()
    GLib.timeout_add(20_000, lambda: driver.fail('timed out') and False)
    driver.loop.run()


if __name__ == '__main__':
    main()
