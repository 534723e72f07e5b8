"""A real S3-compatible server (S3Proxy, run by scripts/s3) for the object-storage tests, and the
readers a user would point at it: pyarrow's S3 file system, delta-rs, and DuckDB over what pyarrow
reads (DuckDB's httpfs is not available offline)."""
from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.fs as pafs

from kafka_fixture import REPO_ROOT, clean_env, free_port

S3_SCRIPT = REPO_ROOT / "scripts" / "s3"

# S3Proxy's filesystem backend writes a PutObject's body to "<key>-<random UUID>" beside the key,
# then moves it onto the key. A server killed between the two leaves that file, and lists it as an
# object from then on: a stray copy of the upload, complete or cut, that a real store never shows
# (an unfinished PUT is never visible there).
_PUT_TEMP = re.compile(r".+-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class S3Error(RuntimeError):
    pass


class S3Server:
    """One local S3Proxy with its own data folder and port; start() and stop() any number of
    times (the data and the port are kept, as an outage test needs)."""

    def __init__(self, data_dir: str | os.PathLike, port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self._watchdog: subprocess.Popen | None = None
        self.swept: list[str] = []  # what the last kill() removed (sweep_put_temps)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """What `eval "$(scripts/s3 env)"` exports, as a dict for kpipe's environment."""
        out = self.script("env").stdout
        env = {}
        for line in out.splitlines():
            if line.startswith("export "):
                k, _, v = line[len("export "):].partition("=")
                env[k] = v.strip("'\"")
        return env

    def script(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(S3_SCRIPT), *args], env=clean_env({"KPIPE_S3_DIR": str(self.data_dir),
                                                                      "S3_PORT": str(self.port)}),
                              capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout)
        if check and proc.returncode != 0:
            raise S3Error(f"scripts/s3 {' '.join(args)} failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
        return proc

    def start(self) -> None:
        self.script("start", timeout=120)
        if self._watchdog is None:
            # The server runs in its own session: stop it when this process is gone, whatever
            # way it ends.
            script = ('while kill -0 "$KPIPE_OWNER_PID" 2>/dev/null; do sleep 1; done; '
                      'exec "$KPIPE_S3_SCRIPT" stop >/dev/null 2>&1')
            env = clean_env({"KPIPE_S3_DIR": str(self.data_dir), "S3_PORT": str(self.port),
                             "KPIPE_OWNER_PID": str(os.getpid()), "KPIPE_S3_SCRIPT": str(S3_SCRIPT)})
            self._watchdog = subprocess.Popen(["bash", "-c", script], env=env, start_new_session=True,
                                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        self.script("stop", timeout=90)

    def kill(self) -> None:
        """SIGKILL, as a crashed server: nothing flushed, connections cut. Then what S3Proxy alone
        leaves of the PUTs it was taking is removed (sweep_put_temps)."""
        pid = int((self.data_dir / "s3.pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        (self.data_dir / "s3.pid").unlink(missing_ok=True)
        self.swept = self.sweep_put_temps()

    def sweep_put_temps(self) -> list[str]:
        """Removes what a killed S3Proxy left of the uploads it was taking (see _PUT_TEMP), so the
        store afterwards shows what S3 would: the objects whose uploads completed. S3Proxy's own
        folders stay, among them the multipart parts (".mpus-*"): unfinished uploads, which S3 keeps
        too. Returns the keys removed."""
        blobs = self.data_dir / "blobs"
        swept = []
        for dirpath, dirnames, filenames in os.walk(blobs):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]  # S3Proxy's own (".mpus-*", ...)
            for name in filenames:
                if _PUT_TEMP.fullmatch(name):
                    path = Path(dirpath) / name
                    swept.append(str(path.relative_to(blobs)))
                    path.unlink()
        return swept

    def new_bucket(self, prefix: str = "b") -> str:
        name = f"{prefix}-{secrets.token_hex(4)}"
        self.script("bucket", name)
        return name

    def fs(self) -> pafs.S3FileSystem:
        e = self.env
        return pafs.S3FileSystem(endpoint_override=f"127.0.0.1:{self.port}", scheme="http",
                                 access_key=e["AWS_ACCESS_KEY_ID"], secret_key=e["AWS_SECRET_ACCESS_KEY"],
                                 region=e.get("AWS_REGION", "us-east-1"))

    def delta_storage_options(self) -> dict[str, str]:
        e = self.env
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": e["AWS_ACCESS_KEY_ID"],
                "AWS_SECRET_ACCESS_KEY": e["AWS_SECRET_ACCESS_KEY"], "AWS_REGION": e.get("AWS_REGION", "us-east-1"),
                "AWS_ALLOW_HTTP": "true", "AWS_S3_ALLOW_UNSAFE_RENAME": "true"}

    def keys(self, bucket_prefix: str) -> list[str]:
        """Every object below "bucket/prefix", as paths relative to it."""
        sel = pafs.FileSelector(bucket_prefix, recursive=True, allow_not_found=True)
        return sorted(i.path[len(bucket_prefix) + 1:] for i in self.fs().get_file_info(sel)
                      if i.type == pafs.FileType.File)

    def download(self, bucket_prefix: str, dest: Path) -> Path:
        """A local copy of "bucket/prefix" (what a user's `aws s3 sync` gives), for the readers of
        local folders."""
        dest.mkdir(parents=True, exist_ok=True)
        if self.keys(bucket_prefix):
            pafs.copy_files(bucket_prefix, str(dest), source_filesystem=self.fs(),
                            destination_filesystem=pafs.LocalFileSystem())
        return dest
