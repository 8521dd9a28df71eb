"""Small helpers shared by the image e2e test (conftest.py) and its benchmark (bench/image)."""

import secrets
import socket
import string
import time


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, deadline_seconds, what, interval=0.2):
    """Polls predicate until it is true; TimeoutError naming `what` after the deadline."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not within {deadline_seconds} s")


def token(length=32, alphabet=string.ascii_letters + string.digits):
    """A random credential for a throwaway service."""
    return "".join(secrets.choice(alphabet) for _ in range(length))
