#!/usr/bin/python3
"""nbxmpp (Gajim's library, Debian python3-nbxmpp) reads the user's message archive, one run, as Gajim does.

Usage: mam_nbxmpp.py JID PASSWORD HOST PORT PAGE [WITH ...]
Logs in over TCP with STARTTLS (certificate errors ignored), then with nbxmpp's own MAM module (XEP-0313,
MAM.make_query, which pages forwards with RSM <after/>, the way Gajim catches up) reads the whole archive in
pages of PAGE, then the same once per WITH JID (the `with` filter). nbxmpp's dispatcher unwraps each result
(properties.mam). The `with` filter needs a work-around for an nbxmpp 4.2.2 bug (_create_field). Prints one JSON object per line:
  online {jid}; result {query, queryid, id, archive, from, to, body, timestamp}; page {query, queryid, complete, first,
  last}; query-done {query, pages}; error {text}; done.
"""
import json
import logging
import os
import sys
from datetime import datetime, timezone

from gi.repository import GLib
import nbxmpp.modules.mam
from nbxmpp.client import Client
from nbxmpp.const import ConnectionProtocol, ConnectionType
from nbxmpp.protocol import JID
from nbxmpp.structs import StanzaHandler

MAX_PAGES = 100


def _create_field(typ, **attrs):
    # nbxmpp 4.2.2's make_query(with_=...) builds its jid-single field with options=None, which the field's
    # options setter cannot iterate (TypeError): the same field with no options.
    if typ == 'jid-single':
        attrs.setdefault('options', [])
    return _library_create_field(typ, **attrs)


_library_create_field = nbxmpp.modules.mam.create_field
nbxmpp.modules.mam.create_field = _create_field


def emit(event, **fields):
    print(json.dumps({'event': event, **fields}), flush=True)


class Driver:
    def __init__(self, jid, password, host, port, page, withs):
        self.loop = GLib.MainLoop()
        jid = JID.from_string(jid)
        self.page = page
        self.queries = [('all', None)] + [(f'with {w}', w) for w in withs]
        self.queryids = {}
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
        client.register_handler(StanzaHandler(name='message', callback=self.on_message))
        # nbxmpp holds task callbacks by weak reference: the driver keeps them alive.
        self.callbacks = []
        self.mam = client.get_module('MAM')

    def fail(self, text):
        emit('error', text=text)
        self.loop.quit()

    def on_connected(self, client, _signal):
        emit('online', jid=str(client.get_bound_jid()))
        self.next_query()

    def on_message(self, _client, _stanza, properties):
        try:
            self.report(properties)
        except Exception as error:  # nbxmpp would log it and go on: the test must see it
            self.fail(f'result: {type(error).__name__}: {error}')

    def report(self, properties):
        if not properties.is_mam_message:
            return
        label = self.queryids.get(properties.mam.query_id)
        emit('result', query=label, queryid=properties.mam.query_id, id=properties.mam.id,
             archive=str(properties.mam.archive), body=properties.body,
             timestamp=datetime.fromtimestamp(properties.mam.timestamp, timezone.utc).isoformat(),
             **{'from': str(properties.from_), 'to': str(properties.to)})

    def next_query(self):
        if not self.queries:
            emit('done')
            self.client.disconnect()
            return
        label, with_ = self.queries.pop(0)
        self.fetch(label, with_, after=None, pages=0)

    def fetch(self, label, with_, after, pages):
        queryid = f'q{len(self.queryids) + 1}'
        self.queryids[queryid] = label
        own = self.client.get_bound_jid().bare

        def done(task):
            try:
                data = task.finish()
            except Exception as error:  # nbxmpp's StanzaError / MalformedStanzaError
                self.fail(f'{label}: {type(error).__name__}: {error}')
                return
            emit('page', query=label, queryid=queryid, complete=data.complete, first=data.rsm.first, last=data.rsm.last)
            if data.complete or data.rsm.last is None:
                emit('query-done', query=label, pages=pages + 1)
                self.next_query()
            elif pages + 1 >= MAX_PAGES:
                self.fail(f'{label}: paging does not end')
            else:
                self.fetch(label, with_, data.rsm.last, pages + 1)
        self.callbacks.append(done)
        self.mam.make_query(own, queryid=queryid, with_=with_, after=after, max_=self.page, callback=done)


def main():
    if os.environ.get('NBXMPP_DEBUG'):
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    jid, password, host, port, page = sys.argv[1:6]
    driver = Driver(jid, password, host, port, int(page), sys.argv[6:])
    driver.client.connect()
    GLib.timeout_add(20_000, lambda: driver.fail('timed out') and False)
    driver.loop.run()


if __name__ == '__main__':
    main()
