"""The Ray driver of ``vesalius trial TRIAL --out DIR --ray ADDRESS``.

The ``vesalius`` binary starts it (``python -m vesalius.ray_trial``), writes the ids of the
rows to run on its standard input, one per line, and reads the rows back from its standard
output as they finish: one JSON message per line, ``{"row": {...}}`` (the row as the
worker's ``vesalius.Trial.run_row`` made it) or ``{"failed": ID, "error": ...}`` (a row
lost past its retries). The binary journals them and writes the table, as for a local run.

Each row is a Ray task of one CPU. A worker that dies mid-row (killed, out of memory, its
node lost) is retried by Ray up to ``--retries`` times. Workers read the trial from the
same absolute path as the driver (shared storage, or the same image on every node) and
refuse one whose fingerprint (its text, its scene's and the engine's version) differs.

Everything else the driver or Ray prints goes to standard error: standard output carries
the messages only.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import socket
import sys
from typing import TextIO

# Seconds to wait for a TCP connection to the head before calling the address unreachable
# (ray.init itself retries for about a minute).
CONNECT_TIMEOUT_S = 5.0


@functools.lru_cache(maxsize=4)
def _trial(path: str, fingerprint: str):
    import vesalius

    trial = vesalius.Trial.load(path)
    if trial.fingerprint != fingerprint:
        raise vesalius.TrialError(
            f"{path} on {socket.gethostname()} is not the driver's trial (fingerprint "
            f"{trial.fingerprint}, the driver's {fingerprint}): its file, its scene or the "
            f"vesalius version differ"
        )
    return trial


def run_row(path: str, fingerprint: str, row_id: str) -> str:
    """One row on a worker: the row's JSON."""
    return _trial(path, fingerprint).run_row(row_id)


def _reachable(address: str) -> str | None:
    """Why the head at ``HOST:PORT`` cannot be reached (None if it can, or if the address
    is not of that form: ``auto``, ``ray://...``, left to Ray)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return None
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            return None
    except OSError as e:
        return f"cannot connect to {host}:{port}: {e}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vesalius.ray_trial", description=__doc__)
    parser.add_argument("--address", required=True, help="the Ray cluster (HOST:PORT, auto)")
    parser.add_argument("--trial", required=True, help="the trial file (absolute path)")
    parser.add_argument("--fingerprint", required=True, help="vesalius.Trial.fingerprint")
    parser.add_argument("--retries", type=int, default=3, help="retries of a lost worker")
    args = parser.parse_args(argv)

    # Messages on the real standard output; anything else printed, by Python or by C code
    # in Ray, on standard error.
    out: TextIO = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    ids = [line.strip() for line in sys.stdin if line.strip()]
    why = _reachable(args.address)
    if why is not None:
        print(f"the Ray cluster at {args.address} is unreachable: {why}", file=sys.stderr)
        return 3
    try:
        import ray
    except ImportError as e:
        print(f"{sys.executable} has no ray ({e}): pip install ray", file=sys.stderr)
        return 2
    import logging

    try:
        ray.init(address=args.address, logging_level=logging.WARNING, log_to_driver=False)
    except Exception as e:  # noqa: BLE001 - any failure to connect is the address's
        print(f"the Ray cluster at {args.address} is unreachable: {e}", file=sys.stderr)
        return 3
    # By reference to this module (run as __main__, the function would be pickled by value,
    # without the helpers it calls): the workers import it from their vesalius package.
    from vesalius.ray_trial import run_row as remote_row

    task = ray.remote(num_cpus=1, max_retries=args.retries)(remote_row)
    pending = {task.remote(args.trial, args.fingerprint, i): i for i in ids}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            row_id = pending.pop(ref)
            try:
                row = ray.get(ref)
            except Exception as e:  # noqa: BLE001 - the row's failure, reported as its
                # The exception's last line (Ray's message carries the remote traceback).
                lines = str(e).strip().splitlines() or [type(e).__name__]
                out.write(json.dumps({"failed": row_id, "error": lines[-1]}) + "\n")
            else:
                # The worker's JSON as it is: the same bits as a local row.
                out.write('{"row": ' + row + "}\n")
    out.flush()
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
