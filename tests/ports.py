"""A free TCP port for the tests that start process groups (torchrun rendezvous, tcp:// init)."""
import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]
