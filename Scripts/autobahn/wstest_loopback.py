# -*- coding: utf-8 -*-
"""wstest, but every listening socket binds 127.0.0.1 only (Python 2.7).

    .build-autobahn/venv/bin/python Scripts/autobahn/wstest_loopback.py -m fuzzingserver -s spec.json

Same arguments as `wstest`. autobahntestsuite's listeners (listenWS, and the
embedded web server) bind every interface whatever the spec's URL says; no test
of ours may listen beyond loopback, so this forces the interface of every
reactor.listenTCP / listenSSL call to 127.0.0.1 before running wstest's main.
"""
from __future__ import print_function

import sys

LOOPBACK = '127.0.0.1'

# Must come first: importing wstest installs the Twisted reactor (its
# choosereactor module), and the patch has to land on that reactor instance.
from autobahntestsuite import wstest  # noqa: E402
from twisted.internet import reactor  # noqa: E402


def _force_loopback(name):
    original = getattr(reactor, name)
    # listenTCP(port, factory, backlog=50, interface='')
    # listenSSL(port, factory, contextFactory, backlog=50, interface='')
    interface_index = 3 if name == 'listenTCP' else 4

    def listen(*args, **kwargs):
        args = list(args)
        if len(args) > interface_index:
            requested = args[interface_index]
            args[interface_index] = LOOPBACK
        else:
            requested = kwargs.get('interface', '')
            kwargs['interface'] = LOOPBACK
        port = original(*args, **kwargs)
        print('wstest_loopback: %s port %s on %s (requested interface %r)'
              % (name, args[0], LOOPBACK, requested))
        sys.stdout.flush()
        return port

    setattr(reactor, name, listen)


_force_loopback('listenTCP')
_force_loopback('listenSSL')

if __name__ == '__main__':
    sys.argv[0] = 'wstest'
    sys.exit(wstest.run())
