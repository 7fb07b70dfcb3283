"""moto's server on 127.0.0.1 with the DAS extension installed, as a context manager."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from moto.moto_api._internal.models import moto_api_backend
from moto.server import ThreadedMotoServer

from .das_extension import install

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@contextmanager
def local_aws(region: str = "us-east-1") -> Iterator[str]:
    """Start moto's server on a free port of 127.0.0.1 and point every boto3 client at it.

    Yields the endpoint URL. The environment (endpoint, fake credentials, region) is restored on exit.
    """
    install()
    moto_api_backend.reset()  # an empty account every time: moto's backends are global to the process
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no per-request access log on the terminal
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    overrides = {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}
    saved = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        yield endpoint
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()
