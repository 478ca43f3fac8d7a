"""`label-ledger serve --workers N`: N uvicorn processes answering on one address, each on a
listening socket of its own (SO_REUSEPORT), under uvicorn's supervisor (which restarts a worker
that dies and stops them all on SIGTERM or Ctrl-C).

Why sockets of their own: uvicorn's workers share one listening socket, and an idle worker
accepts every connection waiting. Clients that keep their connections open (browsers, a load
balancer's keep-alive pool, any HTTP/1.1 client) then stay where a burst of connections landed:
in a trial run 30 annotators' connections opened at once put 0.54 cores of work on one worker and
0.03 on the other. With one socket each, the kernel spreads new connections over the workers by
their addresses' hash, whichever is awake.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys

import uvicorn
from uvicorn.supervisors.multiprocess import Multiprocess

#: uvicorn's factory that builds each worker's app and runtime from the LABEL_LEDGER_* settings.
APP_FACTORY = "api.app:create_app_from_env"


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port that other such sockets may bind too (SO_REUSEPORT), with
    uvicorn's own options (SO_REUSEADDR, inheritable for the worker process)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class OwnSockets(Multiprocess):
    """uvicorn's supervisor, but every worker it starts (at first, after a death, on SIGHUP)
    gets a socket of its own. uvicorn reads `self.sockets` once per worker it starts, so each
    read binds a new one; the supervisor's copy is closed once the worker has its duplicate (a
    socket nobody accepts on would still be given its share of connections)."""

    def __init__(self, config: uvicorn.Config, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._given: list[socket.socket] = []
        super().__init__(config, sockets=[])

    @property
    def sockets(self) -> list[socket.socket]:
        sock = reuse_port_socket(self._host, self._port)
        self._given.append(sock)
        return [sock]

    @sockets.setter
    def sockets(self, _shared: list[socket.socket]) -> None:
        pass  # Multiprocess.__init__ assigns the shared list this replaces

    def _close_given(self) -> None:
        # Starting a worker pickled the socket with a duplicate of its descriptor for the
        # child: the supervisor's own copy can go.
        for sock in self._given:
            sock.close()
        self._given.clear()

    def init_processes(self) -> None:
        super().init_processes()
        self._close_given()

    def keep_subprocess_alive(self) -> None:
        super().keep_subprocess_alive()
        self._close_given()

    def restart_all(self) -> None:
        super().restart_all()
        self._close_given()


#: Set in the supervisor's environment: its workers end when it does.
SUPERVISOR_PID = "LABEL_LEDGER_SERVE_SUPERVISOR_PID"
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def end_with_supervisor() -> None:
    """In an API worker of `serve --workers`: be sent SIGTERM when the supervisor dies, even by
    SIGKILL (Linux), rather than live on as an orphan holding the port and its connections."""
    supervisor = os.environ.get(SUPERVISOR_PID)
    if supervisor is None or not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(supervisor):  # it died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


def serve_workers(host: str, port: int, workers: int) -> None:
    """Runs `workers` API processes on host:port until SIGTERM or Ctrl-C."""
    os.environ[SUPERVISOR_PID] = str(os.getpid())  # the workers inherit it
    config = uvicorn.Config(
        APP_FACTORY, factory=True, host=host, port=port, workers=workers, log_level="warning"
    )
    OwnSockets(config, host, port).run()
