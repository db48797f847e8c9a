"""Loaded by every Python process of ``make test`` (PYTHONPATH), notebook kernels included.

With ``COURSE_BLOCK_NETWORK=1`` any connection to a non-loopback address raises, so a smoke
run that tries to reach a model or dataset hub fails loudly instead of passing by luck.
"""

import os

if os.environ.get("COURSE_BLOCK_NETWORK") == "1":
    import socket

    _connect = socket.socket.connect

    class NetworkBlocked(OSError):
        pass

    def _guarded_connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and not (
            str(host).startswith("127.") or host in ("::1", "localhost")
        ):
            raise NetworkBlocked(f"network access to {address!r} is blocked in smoke runs")
        return _connect(self, address)

    socket.socket.connect = _guarded_connect
