"""moto server for every AWS service except DynamoDB, in this process, on a loopback port.

In-process so the stack can read moto's state directly (e.g. the e-mails SES has "sent").
"""

from __future__ import annotations

import logging

from moto.server import ThreadedMotoServer

from local.ports import LOOPBACK, free_port


class MotoServer:
    def __init__(self, port: int = 0, host: str = LOOPBACK) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._server: ThreadedMotoServer | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MotoServer:
        # werkzeug logs every request line to stderr; the stack logs its own requests.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()
