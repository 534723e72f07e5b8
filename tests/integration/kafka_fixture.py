"""A real local Kafka broker for integration tests, and a clean way to run kpipe against it.

The broker is the one `scripts/kafka` starts (Apache Kafka in KRaft mode on Java), with its own
data folder and ports, so tests never touch a developer's broker. Messages go in and out through
kcat (librdkafka, the same client library kpipe links), in binary-safe formats: payloads may hold
newlines, NUL bytes and anything else, and come back byte for byte.

Used by conftest.py; tests import `run_kpipe`, `clean_env` or `KafkaBroker` from here when they
need them outside a fixture.
"""
from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_SCRIPT = REPO_ROOT / "scripts" / "kafka"

SASL_USERNAME = "kpipe"
SASL_PASSWORD = "kpipe-secret"

# Settings kpipe reads from the environment (and .env). A test must state the ones it wants;
# whatever the developer's shell exports must not leak in. Every KAFKA_* and KPIPE_* name is
# dropped too (except _KEEP), and so is every name the repository's .env defines.
_KPIPE_SETTINGS = {
    "MSGS_PER_SEC", "OUTPUT_PATH", "CSV_OUTPUT_PATH", "CHECKPOINT_PATH", "DEAD_LETTER_PATH",
    "TRIGGER_SECONDS", "MAX_RECORDS_PER_FILE", "FILES_PER_PARTITION", "STARTING_OFFSETS",
    "MAX_OFFSETS_PER_TRIGGER", "FAIL_ON_DATA_LOSS", "PARQUET_COMPRESSION", "ON_BAD_RECORD",
    "PARTITION_FROM", "MAX_RECORD_BYTES", "MAX_STRING_BYTES", "STATUS_ADDR", "KCAT_CONFIG",
}
_DROP_PREFIXES = ("KAFKA_", "KPIPE_")
_KEEP = {"KPIPE_CACHE"}  # where scripts/bootstrap put the Kafka jars


class KafkaError(RuntimeError):
    """A broker or kcat operation failed; the message carries the command's output."""


def _dotenv_names() -> set[str]:
    names: set[str] = set()
    try:
        text = (REPO_ROOT / ".env").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return names
    for line in text.splitlines():
        m = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=", line)
        if m:
            names.add(m.group(1))
    return names


def clean_env(overrides: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """os.environ without any kpipe/Kafka setting, then `overrides` (a None value removes a name)."""
    drop = _KPIPE_SETTINGS | _dotenv_names()
    env = {
        k: v
        for k, v in os.environ.items()
        if k in _KEEP or (k not in drop and not k.startswith(_DROP_PREFIXES))
    }
    for k, v in (overrides or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (another process may still take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n: int) -> list[int]:
    """n distinct free ports: all sockets are held open until every port is chosen."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def default_kpipe_bin() -> Path:
    return Path(os.environ.get("KPIPE_BIN") or REPO_ROOT / "build" / "kpipe")


def run_kpipe(
    args: Sequence[str],
    env: Mapping[str, str | None] | None = None,
    timeout: float = 120,
    cwd: str | os.PathLike | None = None,
    *,
    input: bytes | str | None = None,
    kpipe_bin: str | os.PathLike | None = None,
) -> subprocess.CompletedProcess:
    """Runs `kpipe ARGS...` and returns the finished process (stdout/stderr as str, never raises
    on a non-zero exit; raises subprocess.TimeoutExpired after `timeout` s, the child killed).

    The environment is the caller's without any kpipe or Kafka setting (see clean_env), plus
    `env`. The working directory defaults to a new empty temporary folder, so no .env is read by
    accident; it is returned as `result.cwd`. stdin is `input`, or empty.
    """
    binary = Path(kpipe_bin) if kpipe_bin else default_kpipe_bin()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(f"kpipe binary not found at {binary}: build it (cmake --build build) or set KPIPE_BIN")
    if cwd is None:
        cwd = tempfile.mkdtemp(prefix="kpipe-run-")
    data = input.encode() if isinstance(input, str) else input
    proc = subprocess.run(
        [str(binary), *map(str, args)],
        env=clean_env(env),
        cwd=cwd,
        input=data,
        stdin=subprocess.DEVNULL if data is None else None,
        capture_output=True,
        timeout=timeout,
    )
    result = subprocess.CompletedProcess(
        proc.args,
        proc.returncode,
        proc.stdout.decode("utf-8", errors="replace"),
        proc.stderr.decode("utf-8", errors="replace"),
    )
    result.cwd = Path(cwd)  # type: ignore[attr-defined]
    return result


def _describe(proc: subprocess.CompletedProcess) -> str:
    def text(b):
        return b.decode("utf-8", errors="replace") if isinstance(b, bytes) else (b or "")

    return f"exit {proc.returncode}\n--- stdout\n{text(proc.stdout)}--- stderr\n{text(proc.stderr)}"


class KafkaBroker:
    """One local broker run by scripts/kafka, with its own data folder and ports.

    `start()` and `stop()` may be called any number of times: a restart keeps the data, the
    client port and the controller port, as an outage test needs.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike,
        port: int | None = None,
        sasl_port: int | None = None,
        start_timeout: float = 60,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.sasl_port = sasl_port
        self.start_timeout = start_timeout
        self.controller_port: int | None = None
        self._watchdog: subprocess.Popen | None = None

    # --- addresses and environment -----------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_bootstrap(self) -> str | None:
        """The SASL_PLAINTEXT (PLAIN, SASL_USERNAME/SASL_PASSWORD) address, when enabled."""
        return f"127.0.0.1:{self.sasl_port}" if self.sasl_port else None

    @property
    def env(self) -> dict[str, str]:
        """A complete environment (a new dict each time) for scripts/kafka against this broker:
        the caller's without kpipe/Kafka settings, plus KPIPE_KAFKA_DIR, KAFKA_PORT,
        KAFKA_CONTROLLER_PORT, KAFKA_SASL_PORT and KAFKA_BOOTSTRAP_SERVERS."""
        extra = {
            "KPIPE_KAFKA_DIR": str(self.data_dir),
            "KAFKA_PORT": str(self.port),
            "KAFKA_START_TIMEOUT": str(int(self.start_timeout)),
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
        }
        if self.controller_port:
            extra["KAFKA_CONTROLLER_PORT"] = str(self.controller_port)
        if self.sasl_port:
            extra["KAFKA_SASL_PORT"] = str(self.sasl_port)
        return clean_env(extra)

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return f"(no log at {self.log_path})"
        return "\n".join(text.splitlines()[-lines:])

    # --- lifecycle ---------------------------------------------------------------------------

    def script(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        """Runs `scripts/kafka ARGS...` against this broker; text output."""
        proc = subprocess.run(
            [str(KAFKA_SCRIPT), *args],
            env=self.env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise KafkaError(f"scripts/kafka {' '.join(args)} failed: {_describe(proc)}")
        return proc

    def start(self) -> None:
        proc = self.script("start", timeout=self.start_timeout + 60, check=False)
        if proc.returncode != 0:
            raise KafkaError(
                f"the Kafka broker did not start ({self.bootstrap}, data {self.data_dir}): "
                f"{_describe(proc)}--- last lines of {self.log_path}\n{self.log_tail(30)}"
            )
        self.controller_port = self._state().get("CONTROLLER_PORT") or self.controller_port
        if self._watchdog is None:
            self._start_watchdog()

    def _start_watchdog(self) -> None:
        """The broker runs in its own session, so nothing stops it if this process dies without
        running the fixture's finalizer (SIGTERM, SIGKILL, an internal error). A small shell
        process stops it once this process is gone."""
        script = (
            'while kill -0 "$KPIPE_OWNER_PID" 2>/dev/null; do sleep 1; done; '
            'exec "$KPIPE_KAFKA_SCRIPT" stop >/dev/null 2>&1'
        )
        env = self.env
        env.update(KPIPE_OWNER_PID=str(os.getpid()), KPIPE_KAFKA_SCRIPT=str(KAFKA_SCRIPT))
        self._watchdog = subprocess.Popen(
            ["bash", "-c", script], env=env, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        self.script("stop", timeout=90)

    def is_running(self) -> bool:
        try:
            pid = int((self.data_dir / "kafka.pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return False
        return b"kafka.Kafka" in cmdline and str(self.data_dir).encode() in cmdline

    def _state(self) -> dict[str, int]:
        state: dict[str, int] = {}
        try:
            for line in (self.data_dir / "kafka.state").read_text().splitlines():
                k, _, v = line.partition("=")
                if v.strip().isdigit():
                    state[k.strip()] = int(v)
        except OSError:
            pass
        return state

    # --- topics and messages -----------------------------------------------------------------

    def create_topic(self, name: str, partitions: int = 3) -> None:
        """Creates the topic if missing and waits until every partition has a leader."""
        self.script("topic", name, str(partitions), timeout=90)

    def _kcat(self, args: Sequence[str], timeout: float, input: bytes | None = None) -> bytes:
        cmd = ["kcat", "-F", "/dev/null", "-b", self.bootstrap, *args]
        try:
            proc = subprocess.run(
                cmd,
                input=input,
                stdin=subprocess.DEVNULL if input is None else None,
                capture_output=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as e:
            raise KafkaError(f"{' '.join(cmd[:12])} did not finish within {timeout}s") from e
        if proc.returncode != 0:
            raise KafkaError(f"{' '.join(cmd[:12])} failed: {_describe(proc)}")
        return proc.stdout

    def produce(
        self,
        topic: str,
        values: Iterable[bytes],
        partition: int | None = None,
        keys: Iterable[bytes | None] | None = None,
        timeout: float = 120,
    ) -> None:
        """Produces each value as one message, in order, and returns once all are acknowledged
        (acks=all, idempotent producer); raises KafkaError if any is not.

        partition None spreads messages over all partitions at random, message by message (the
        sticky partitioner is off). Without `keys` every key is NULL. kcat cannot send a NULL key
        and an empty value in one call, so when `keys` is given, or any value is empty, a None key
        is sent as an empty key.
        """
        values = [bytes(v) for v in values]
        key_list = [None if k is None else bytes(k) for k in keys] if keys is not None else None
        if key_list is not None and len(key_list) != len(values):
            raise ValueError(f"{len(key_list)} keys for {len(values)} values")
        if not values:
            return
        keyed = key_list is not None or any(len(v) == 0 for v in values)
        if keyed and key_list is None:
            key_list = [None] * len(values)
        everything = values + [k for k in (key_list or []) if k]
        while True:  # delimiters that occur in no payload
            delim = f"@@kpipe-{secrets.token_hex(12)}@@".encode()
            kdelim = f"@@kpipe-key-{secrets.token_hex(12)}@@".encode()
            if not any(delim in p or kdelim in p for p in everything):
                break
        if keyed:
            data = b"".join((k or b"") + kdelim + v + delim for k, v in zip(key_list, values))
        else:
            data = b"".join(v + delim for v in values)
        args = ["-P", "-t", topic, "-D", delim.decode(), "-m", "30",
                "-X", "enable.idempotence=true", "-X", "sticky.partitioning.linger.ms=0"]
        if keyed:
            args += ["-K", kdelim.decode()]
        if partition is not None:
            args += ["-p", str(partition)]
        self._kcat(args, timeout, input=data)

    def consume(self, topic: str, timeout: float = 60) -> list[dict]:
        """Every message of the topic from the beginning to the current end (read_committed),
        sorted by (partition, offset): dicts with partition:int, offset:int, key:bytes|None,
        value:bytes (None only for a NULL value), timestamp:int (ms since the epoch)."""
        out = self._kcat(
            ["-C", "-t", topic, "-o", "beginning", "-e", "-q", "-m", "30",
             "-f", r"%p %o %T %K %S\n%k%s\n"],
            timeout,
        )
        return sorted(_parse_messages(out), key=lambda m: (m["partition"], m["offset"]))

    def end_offsets(self, topic: str, partitions: int | None = None, timeout: float = 30) -> dict[int, int]:
        """{partition: high watermark} (the next offset to be written)."""
        if partitions is None:
            partitions = self.partition_count(topic, timeout)
        args = ["-Q", "-m", "30"]
        for p in range(partitions):
            args += ["-t", f"{topic}:{p}:-1"]
        out = self._kcat(args, timeout).decode()
        offsets = {}
        for m in re.finditer(r"^(\S+) \[(\d+)\] offset (-?\d+)$", out, re.M):
            offsets[int(m.group(2))] = int(m.group(3))
        if len(offsets) != partitions:
            raise KafkaError(f"end offsets of {topic}: expected {partitions} partitions in\n{out}")
        return offsets

    def partition_count(self, topic: str, timeout: float = 30) -> int:
        out = self._kcat(["-L", "-t", topic, "-m", "10"], timeout).decode()
        m = re.search(r'topic "%s" with (\d+) partitions' % re.escape(topic), out)
        if not m:
            raise KafkaError(f"topic {topic} not in metadata:\n{out}")
        return int(m.group(1))

    # --- Kafka's own tools -------------------------------------------------------------------

    def kafka_tool(self, main_class: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Runs a Kafka CLI tool by main class (e.g. org.apache.kafka.tools.TopicCommand) with the
        broker's jars; its log goes to stderr at WARN. Text output; does not check the exit code."""
        home = subprocess.run([str(KAFKA_SCRIPT), "home"], env=self.env, capture_output=True,
                              text=True, timeout=30, check=True).stdout.strip()
        cmd = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
               f"-Dlog4j2.configurationFile={REPO_ROOT / 'scripts' / 'kafka-log4j2.properties'}",
               "-Dkpipe.log.level=WARN", "-Dkpipe.log.target=SYSTEM_ERR",
               "-cp", f"{home}/libs/*", main_class, *args]
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=timeout)

    def group_offsets(self, group: str, timeout: float = 120) -> dict[tuple[str, int], int | None]:
        """{(topic, partition): committed offset} of a consumer group, as
        `kafka-consumer-groups --describe` reports it (None where it shows '-')."""
        proc = self.kafka_tool(
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
            "--bootstrap-server", self.bootstrap, "--describe", "--group", group,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise KafkaError(f"describing consumer group {group} failed: {_describe(proc)}")
        offsets: dict[tuple[str, int], int | None] = {}
        header: list[str] | None = None
        for line in proc.stdout.splitlines():
            cols = line.split()
            if cols[:3] == ["GROUP", "TOPIC", "PARTITION"]:
                header = cols
                continue
            if header and len(cols) >= 4 and cols[0] == group:
                row = dict(zip(header, cols))
                current = row.get("CURRENT-OFFSET", "-")
                offsets[(row["TOPIC"], int(row["PARTITION"]))] = None if current == "-" else int(current)
        return offsets


def _parse_messages(out: bytes) -> list[dict]:
    """Parses kcat output in the format '%p %o %T %K %S\\n%k%s\\n': a header line with the
    lengths, then exactly that many key and value bytes. Lengths make it binary safe."""
    messages = []
    pos, n = 0, len(out)
    while pos < n:
        eol = out.index(b"\n", pos)
        part, offset, ts, klen, vlen = (int(x) for x in out[pos:eol].split())
        pos = eol + 1
        key = None
        if klen >= 0:
            key, pos = out[pos:pos + klen], pos + klen
        value = None
        if vlen >= 0:
            value, pos = out[pos:pos + vlen], pos + vlen
        if out[pos:pos + 1] != b"\n" or (key is not None and len(key) != klen) or \
                (value is not None and len(value) != vlen):
            raise KafkaError(f"kcat output is cut or malformed at byte {pos} (message {part}/{offset})")
        pos += 1
        messages.append({"partition": part, "offset": offset, "key": key, "value": value, "timestamp": ts})
    return messages


def wait_until(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    """Polls predicate() until it returns a truthy value (returned) or `timeout` s pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        time.sleep(interval)
