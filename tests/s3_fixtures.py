"""An S3 endpoint for tests: moto's standalone server on 127.0.0.1, started here.

Import both fixtures into a test module to use `s3_bucket`:
`from s3_fixtures import moto_endpoint_fixture, s3_bucket_fixture`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

# Fake credentials, passed explicitly so that botocore never looks for real ones
# (environment, profiles or an instance metadata service).
ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key-0123456789"


@pytest.fixture(scope="session", name="moto_endpoint")
def moto_endpoint_fixture() -> Iterator[str]:
    """Start moto's S3 server on a free loopback port for the test session."""
    pytest.importorskip("s3fs")
    server_module = pytest.importorskip("moto.server")
    saved = os.environ.get("AWS_EC2_METADATA_DISABLED")
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    server = server_module.ThreadedMotoServer(
        ip_address="127.0.0.1", port=0, verbose=False
    )
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        if saved is None:
            os.environ.pop("AWS_EC2_METADATA_DISABLED", None)
        else:
            os.environ["AWS_EC2_METADATA_DISABLED"] = saved


@pytest.fixture(name="s3_bucket")
def s3_bucket_fixture(moto_endpoint: str) -> Iterator[tuple[Any, str, dict[str, Any]]]:
    """Create a fresh bucket; yield an s3fs file system, the bucket and the
    storage_options that reach it."""
    import s3fs

    options: dict[str, Any] = {
        "key": ACCESS_KEY,
        "secret": SECRET_KEY,
        "client_kwargs": {"endpoint_url": moto_endpoint, "region_name": "eu-west-1"},
        "skip_instance_cache": True,
    }
    fs = s3fs.S3FileSystem(**options)
    bucket = f"exports-{uuid.uuid4().hex[:12]}"
    fs.mkdir(bucket)
    yield fs, bucket, options
    fs.rm(bucket, recursive=True)
