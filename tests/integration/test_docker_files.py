"""The Docker files stay in line with kpipe, .env, the README and scripts/versions.env, and what of
them can run without a Docker engine runs here:

- docker-compose.yml: its services; every environment name it sets or passes is a kpipe setting
  (from `kpipe stream --help` / `kpipe produce --help`) or, for the broker, a property of the
  pinned Kafka version (from Kafka's own config docs); the published ports against the
  listeners, STATUS_ADDR, .env and the README's Docker section;
- kafka-init's command run against a real broker by Kafka's TopicCommand (the class the image's
  kafka-topics.sh runs), and both programs run with the compose settings;
- Dockerfile: Debian 12 bases, the runtime packages against what kpipe links;
- scripts/stage-runtime (the image's /usr/local) and scripts/docker-entrypoint (its user switch).
"""
from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from kafka_fixture import KAFKA_SCRIPT, REPO_ROOT, clean_env, run_kpipe
from output_check import data_files, read_parquet

COMPOSE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
SERVICES = {"kafka", "kafka-init", "producer", "stream"}
SEED_NAMES = {"KAFKA_TOPIC", "MSGS_PER_SEC", "KAFKA_BOOTSTRAP_SERVERS", "OUTPUT_PATH", "TRIGGER_SECONDS",
              "MAX_RECORDS_PER_FILE", "FILES_PER_PARTITION"}
# Variables of the apache/kafka image that are not broker properties: CLUSTER_ID (its launch
# script formats the KRaft storage with it) and the JVM/log settings its property renderer
# leaves out (docker/resources/common-scripts/kafka-propertiesSpec.json, "excludes").
KAFKA_IMAGE_VARIABLES = {"CLUSTER_ID", "KAFKA_HEAP_OPTS", "KAFKA_OPTS", "KAFKA_JMX_OPTS", "KAFKA_JMX_PORT",
                         "KAFKA_JMX_HOSTNAME", "KAFKA_LOG4J_OPTS", "KAFKA_JVM_PERFORMANCE_OPTS", "KAFKA_GC_LOG_OPTS",
                         "KAFKA_LOG4J_ROOT_LOGLEVEL", "KAFKA_LOG4J_LOGGERS", "KAFKA_TOOLS_LOG4J_LOGLEVEL"}
# In debian:bookworm-slim already (apt needs them), so the runtime stage need not name them.
BASE_IMAGE_PACKAGES = {"libc6", "libstdc++6", "libgcc-s1"}
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


# --- reading the files ---------------------------------------------------------------------------

def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as Docker Compose reads them: `# comment` lines, inline ` # comments`
    after unquoted values, optional quotes and `export`."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$", line)
        if not m:
            continue
        value = m.group(2)
        if value[:1] in ("'", '"') and value[0] in value[1:]:
            value = value[1:value.index(value[0], 1)]
        else:
            value = re.sub(r"\s+#.*$", "", value).strip()
        out[m.group(1)] = value
    return out


def interpolate(value, env: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME-default} and ${NAME:-default} (env is the shell, then .env)."""
    return INTERPOLATION.sub(lambda m: env.get(m.group(1)) or m.group(2) or "", str(value))


def strings(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield str(k)
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)
    elif node is not None:
        yield str(node)


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def env_files(service: dict) -> list[str]:
    f = service.get("env_file") or []
    items = [f] if isinstance(f, (str, dict)) else f
    return [i["path"] if isinstance(i, dict) else i for i in items]


def ports(service: dict) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of each published port ("ip:host:container")."""
    out = []
    for p in service.get("ports") or []:
        parts = str(p).split(":")
        assert len(parts) == 3, f"publish {p} on an explicit host address, e.g. 127.0.0.1:{p}"
        out.append((parts[0], int(parts[1]), int(parts[2].split("/")[0])))
    return out


def listeners(value: str) -> dict[str, tuple[str, int]]:
    """"NAME://host:port,..." → {NAME: (host, port)}."""
    out = {}
    for item in value.split(","):
        name, _, addr = item.strip().partition("://")
        host, _, port = addr.rpartition(":")
        out[name] = (host, int(port))
    return out


def broker_property(variable: str) -> str:
    """The apache/kafka image's mapping: KAFKA_ABC_DEF → abc.def, __ → _, ___ → -."""
    s = variable[len("KAFKA_"):]
    s = s.replace("___", "\0").replace("__", "\1").replace("_", ".")
    return s.replace("\0", "-").replace("\1", "_").lower()


def readme_section(title: str) -> str:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert f"\n## {title}\n" in readme, f"README has no '## {title}' section"
    return readme.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def dockerfile_stages() -> list[dict]:
    """Each FROM of the Dockerfile with the instructions under it (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    stages: list[dict] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            args = [a for a in rest.split() if not a.startswith("--")]
            stages.append({"image": args[0], "name": args[2] if len(args) > 2 else None, "lines": []})
        elif stages:
            stages[-1]["lines"].append((word.upper(), rest.strip()))
    return stages


def apt_installed_by(stage: dict) -> list[str]:
    packages = []
    for word, rest in stage["lines"]:
        if word != "RUN":
            continue
        for cmd in re.split(r"&&|;", rest):
            tokens = shlex.split(cmd.split(">", 1)[0])
            if "apt-get" in tokens and "install" in tokens:
                packages += [t for t in tokens[tokens.index("install") + 1:] if not t.startswith("-")]
    return packages


@pytest.fixture(scope="module")
def compose() -> dict:
    doc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(doc, dict) and isinstance(doc.get("services"), dict), "docker-compose.yml has no services"
    return doc


@pytest.fixture(scope="module")
def dotenv() -> dict[str, str]:
    return read_dotenv(REPO_ROOT / ".env")


@pytest.fixture(scope="module")
def kpipe_settings(kpipe_bin) -> dict[str, set[str]]:
    out = {}
    for command in ("stream", "produce"):
        p = run_kpipe([command, "--help"], kpipe_bin=kpipe_bin, timeout=30)
        assert p.returncode == 0, p.stderr
        out[command] = set(re.findall(r"\[env ([A-Z_][A-Z0-9_]*)", p.stdout))
        assert len(out[command]) >= 3, p.stdout
    return out


@pytest.fixture(scope="module")
def broker_properties() -> set[str]:
    """Every broker property of the pinned Kafka version: the config docs its KafkaConfig prints."""
    home = subprocess.run([str(KAFKA_SCRIPT), "home"], env=clean_env(), capture_output=True, text=True,
                          timeout=30, check=True).stdout.strip()
    p = subprocess.run(["java", "-Xmx256m", "-cp", f"{home}/libs/*", "kafka.server.KafkaConfig"],
                       env=clean_env(), capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    names = set(re.findall(r'id="brokerconfigs_([^"]+)"', p.stdout))
    assert p.returncode == 0 and len(names) > 100, f"kafka.server.KafkaConfig printed no config docs: {p.stderr[-2000:]}"
    return names


def versions_env() -> dict[str, str]:
    return read_dotenv(REPO_ROOT / "scripts" / "versions.env")


# --- docker-compose.yml ---------------------------------------------------------------------------

def test_the_seeds_services_are_there_and_start_in_order(compose):
    services = compose["services"]
    assert SERVICES <= set(services), f"missing services: {SERVICES - set(services)}"
    assert "healthcheck" in services["kafka"], "kafka-init waits for a healthy broker: kafka needs a healthcheck"
    assert services["kafka-init"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert str(services["kafka-init"].get("restart", "no")) == "no", "kafka-init runs once"
    for name in ("producer", "stream"):
        assert services[name]["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully", name
        assert env_files(services[name]) == [".env"], f"{name} reads .env"
    assert services["producer"]["command"][:1] == ["produce"]
    assert services["stream"]["command"][:1] == ["stream"]


def test_the_kpipe_image_is_built_once_for_both_programs(compose):
    services = compose["services"]
    builders = [name for name in ("producer", "stream") if "build" in services[name]]
    assert builders == ["stream"], f"one service builds the image (else Compose builds it twice): {builders}"
    assert services["stream"]["build"] in (".", {"context": "."}), "the image is built from the Dockerfile"
    image = services["stream"].get("image")
    assert image and services["producer"].get("image") == image, \
        f"the producer runs the image the stream service builds ({image})"


def test_every_environment_name_is_a_kpipe_setting_or_a_broker_property(compose, dotenv, kpipe_settings,
                                                                         broker_properties):
    services = compose["services"]
    every_setting = kpipe_settings["stream"] | kpipe_settings["produce"]
    for service, command in (("producer", "produce"), ("stream", "stream")):
        unknown = set(environment(services[service])) - kpipe_settings[command]
        assert not unknown, f"{service} sets {sorted(unknown)}, which kpipe {command} does not read"
    unknown = set(dotenv) - every_setting
    assert not unknown, f".env (passed to both programs) sets {sorted(unknown)}, which kpipe does not read"
    interpolated = {m.group(1) for s in strings(compose) for m in INTERPOLATION.finditer(s)}
    unknown = interpolated - every_setting
    assert not unknown, f"docker-compose.yml interpolates {sorted(unknown)}, which is no kpipe setting"
    for service in ("kafka", "kafka-init"):
        for name in environment(services[service]):
            if name in KAFKA_IMAGE_VARIABLES:
                continue
            assert name.startswith("KAFKA_"), f"{service}: {name} is no variable of the apache/kafka image"
            assert broker_property(name) in broker_properties, \
                f"{service}: {name} becomes '{broker_property(name)}', which is no broker property of Kafka " \
                f"{versions_env()['KAFKA_VERSION']}"


def test_cluster_id_is_a_kafka_uuid(compose):
    cluster_id = environment(compose["services"]["kafka"])["CLUSTER_ID"]
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16, \
        f"CLUSTER_ID {cluster_id} is not a base64url UUID (kafka-storage.sh random-uuid makes one)"


def test_dotenv_has_the_seeds_seven_settings(dotenv):
    assert SEED_NAMES <= set(dotenv), f".env lacks {sorted(SEED_NAMES - set(dotenv))}"


def test_listeners_ports_and_addresses_agree(compose, dotenv):
    services = compose["services"]
    kafka_env = environment(services["kafka"])
    bound = listeners(kafka_env["KAFKA_LISTENERS"])
    advertised = listeners(kafka_env["KAFKA_ADVERTISED_LISTENERS"])
    protocols = dict(i.split(":") for i in kafka_env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(bound) <= set(protocols), "every listener needs a security protocol"
    controller = kafka_env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert controller in bound and controller not in advertised

    # The network address: the inter-broker listener, advertised under the service's name.
    internal = kafka_env["KAFKA_INTER_BROKER_LISTENER_NAME"]
    host, port = advertised[internal]
    assert host == "kafka" and bound[internal][1] == port
    internal_addr = f"{host}:{port}"
    for name in ("producer", "stream"):
        assert environment(services[name])["KAFKA_BOOTSTRAP_SERVERS"] == internal_addr, name
    command = services["kafka-init"]["command"]
    assert command[command.index("--bootstrap-server") + 1] == internal_addr

    # The host address: each published port is a listener advertised as what the host sees.
    published = ports(services["kafka"])
    assert published, "the broker is published for clients on the host"
    by_port = {p: name for name, (_, p) in bound.items()}
    for host_ip, host_port, container_port in published:
        name = by_port.get(container_port)
        assert name and name != controller, f"published port {container_port} is no client listener"
        assert advertised[name] == (host_ip, host_port), \
            f"listener {name} is published as {host_ip}:{host_port} but advertised as {advertised[name]}"
    assert dotenv["KAFKA_BOOTSTRAP_SERVERS"] in {f"{ip}:{hp}" for ip, hp, _ in published}, \
        ".env's KAFKA_BOOTSTRAP_SERVERS is the broker's host address (README: the host reaches it as is)"

    # The status page: listening on every interface of the container, on the published port.
    status_host, _, status_port = environment(services["stream"])["STATUS_ADDR"].rpartition(":")
    assert status_host == "0.0.0.0", "in a container the status page must listen on 0.0.0.0 to be published"
    assert [cp for _, _, cp in ports(services["stream"])] == [int(status_port)]


def test_readme_docker_section_shows_the_commands_and_the_ports(compose):
    section = readme_section("Docker")
    m = re.search(r"<!-- docker:commands -->\n```bash\n(.*?)```", section, re.S)
    assert m, "README's Docker section has no <!-- docker:commands --> block"
    commands = [line.split("#", 1)[0].strip() for line in m.group(1).splitlines()]
    for expected in ("docker compose up -d --build", "docker compose logs -f stream",
                     "docker compose logs -f producer", "docker compose down -v"):
        assert expected in commands, f"README's Docker commands lack `{expected}`"
    for c in commands:
        if c.startswith("docker compose logs -f "):
            assert c.split()[-1] in compose["services"], c
    services = compose["services"]
    published = {hp for name in ("kafka", "stream") for _, hp, _ in ports(services[name])}
    assert published == {9092, 8080}
    for _, hp, _ in ports(services["kafka"]):
        assert f"127.0.0.1:{hp}" in section, f"README's Docker section does not give the broker's host address :{hp}"
    for _, hp, _ in ports(services["stream"]):
        assert f"http://localhost:{hp}" in section, f"README's Docker section does not give the page's :{hp}"
    internal = environment(services["stream"])["KAFKA_BOOTSTRAP_SERVERS"]
    assert f"`{internal}`" in section
    mentioned = {int(p) for p in re.findall(r"(?:localhost|127\.0\.0\.1|0\.0\.0\.0|kafka):(\d+)", section)}
    assert mentioned <= published | {int(internal.rpartition(":")[2])}, \
        f"README's Docker section names ports the compose file does not use: {sorted(mentioned - published)}"


def test_readme_arm64_command_is_the_make_target_ci_leaves_out():
    # Emulated, the arm64 build takes about an hour (README): a command of its own, not in CI.
    m = re.search(r"<!-- docker:arm64 -->\n```bash\n(.*?)```", readme_section("Docker"), re.S)
    assert m, "README's Docker section has no <!-- docker:arm64 --> block"
    assert "make test-docker-arm64" in m.group(1).split("#", 1)[0]
    makefile = (REPO_ROOT / "Makefile").read_text()
    target = re.search(r"^test-docker-arm64:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert target and "tests/docker/build-arm64" in target.group(1), "no Makefile target runs tests/docker/build-arm64"
    assert os.access(REPO_ROOT / "tests" / "docker" / "build-arm64", os.X_OK)
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "test-docker-arm64" not in ci and "build-arm64" not in ci, ".ci/run must not run the emulated build"


def test_kafka_image_is_the_pinned_version(compose):
    version = versions_env()["KAFKA_VERSION"]
    for name in ("kafka", "kafka-init"):
        assert compose["services"][name]["image"] == f"apache/kafka:{version}", \
            f"{name} must run the scripts/versions.env Kafka ({version})"
    assert f"Apache Kafka {version}" in readme_section("Docker")


def test_the_output_folder_is_mounted_where_dotenv_paths_resolve(compose, dotenv):
    volumes = compose["services"]["stream"]["volumes"]
    assert "./data/output:/app/data/output" in volumes
    workdirs = [rest for word, rest in dockerfile_stages()[-1]["lines"] if word == "WORKDIR"]
    assert workdirs[-1:] == ["/app"]
    for name in ("OUTPUT_PATH", "CSV_OUTPUT_PATH", "CHECKPOINT_PATH", "DEAD_LETTER_PATH"):
        if name in dotenv:
            path = dotenv[name]
            assert not path.startswith("/") and Path(path).parts[:2] == ("data", "output"), \
                f".env's {name}={path} is outside the folder docker-compose.yml mounts"


# --- the compose file's commands, natively against a real broker ------------------------------------

def test_compose_commands_create_the_topic_and_run_both_programs(compose, dotenv, kafka, kpipe_bin,
                                                                 unique_topic, tmp_path):
    services = compose["services"]
    shell = {"KAFKA_TOPIC": unique_topic}  # the shell's value wins over .env, as in Compose
    network_addr = environment(services["stream"])["KAFKA_BOOTSTRAP_SERVERS"]

    # kafka-init: the image's kafka-topics.sh is Kafka's TopicCommand; run twice, it must
    # create the topic once and succeed again (docker compose up on a running stack).
    assert services["kafka-init"]["entrypoint"] == ["/opt/kafka/bin/kafka-topics.sh"]
    args = [interpolate(a, {**dotenv, **shell}).replace(network_addr, kafka.bootstrap)
            for a in services["kafka-init"]["command"]]
    for attempt in range(2):
        p = kafka.kafka_tool("org.apache.kafka.tools.TopicCommand", *args)
        assert p.returncode == 0, f"kafka-init's command failed (run {attempt + 1}): {p.stdout}{p.stderr}"
    assert kafka.partition_count(unique_topic) == 3

    def container_env(service: str) -> dict[str, str]:
        env = dict(dotenv)  # env_file
        env.update({k: interpolate(v, {**dotenv, **shell}) for k, v in environment(services[service]).items()})
        env["KAFKA_BOOTSTRAP_SERVERS"] = env["KAFKA_BOOTSTRAP_SERVERS"].replace(network_addr, kafka.bootstrap)
        return env

    app = tmp_path / "app"  # the image's WORKDIR
    app.mkdir()
    p = run_kpipe([*services["producer"]["command"], "--count", "25", "--rate", "0"], env=container_env("producer"),
                  cwd=app, kpipe_bin=kpipe_bin, timeout=120)
    assert p.returncode == 0, p.stderr

    env = container_env("stream")
    assert env["STATUS_ADDR"].startswith("0.0.0.0:")
    env["STATUS_ADDR"] = "0.0.0.0:0"  # the same interface; any free port, 8080 may be taken here
    p = run_kpipe([*services["stream"]["command"], "--once"], env=env, cwd=app, kpipe_bin=kpipe_bin, timeout=180)
    assert p.returncode == 0, p.stderr
    mount = app / "data" / "output"
    written = [f for f in app.rglob("*") if f.is_file()]
    assert written and all(mount in f.parents for f in written), \
        f"with the compose settings kpipe writes outside the mounted folder: {[str(f) for f in written if mount not in f.parents]}"
    assert read_parquet(mount / "parquet").num_rows == 25
    assert len(data_files(mount / "csv", ".csv")) >= 1


# --- Dockerfile ----------------------------------------------------------------------------------

def test_dockerfile_is_multi_stage_on_debian_12():
    stages = dockerfile_stages()
    assert len(stages) >= 2, "the Dockerfile is multi-stage: a build stage and a runtime stage"
    names = set()
    for stage in stages:
        image = stage["image"]
        assert image in names or re.fullmatch(r"debian:bookworm(-slim)?(-\d{8})?(@sha256:[0-9a-f]{64})?", image), \
            f"FROM {image}: the images are Debian 12 (bookworm)"
        if stage["name"]:
            names.add(stage["name"])
    build, runtime = stages[0], stages[-1]
    runs = " ".join(rest for word, rest in build["lines"] if word == "RUN")
    assert re.search(r"KPIPE_SKIP_KAFKA=1 KPIPE_NO_BROWSER=1 scripts/bootstrap\b", runs)
    assert re.search(r"KPIPE_SKIP_DEV_TOOLS=1 \S.*scripts/bootstrap\b", runs), \
        "the build stage leaves out clang, clang-format and clang-tidy (KPIPE_SKIP_DEV_TOOLS=1)"
    assert "KPIPE_SKIP_DEV_TOOLS" in (REPO_ROOT / "scripts" / "bootstrap").read_text()
    assert "KPIPE_SKIP_KAFKA" in (REPO_ROOT / "scripts" / "bootstrap").read_text()
    assert "KPIPE_NO_BROWSER" in (REPO_ROOT / "scripts" / "bootstrap-web").read_text()
    assert "cmake -S . -B build" in runs and "scripts/stage-runtime" in runs
    entrypoint = [rest for word, rest in runtime["lines"] if word == "ENTRYPOINT"][-1]
    assert "tini" in entrypoint and "kpipe-entrypoint" in entrypoint
    assert "tini" in apt_installed_by(runtime)


def test_runtime_packages_provide_every_library_kpipe_links(kpipe_bin):
    os_release = Path("/etc/os-release").read_text()
    if "VERSION_CODENAME=bookworm" not in os_release or not shutil.which("apt-cache"):
        pytest.skip("the Dockerfile's package names are Debian 12's: checked on Debian 12 only")
    if not any(Path("/var/lib/apt/lists").glob("*_Packages*")):
        pytest.skip("no package lists to check the names against: run apt-get update")
    packages = apt_installed_by(dockerfile_stages()[-1])
    for pkg in packages:
        p = subprocess.run(["apt-cache", "show", "--no-all-versions", pkg], capture_output=True, text=True)
        assert p.returncode == 0 and p.stdout.strip(), f"the runtime stage installs {pkg}, which Debian 12 lacks"
    p = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                        "--no-breaks", "--no-replaces", "--no-enhances", *packages],
                       capture_output=True, text=True, check=True)
    available = {line.strip("<>") for line in p.stdout.splitlines() if line and not line[0].isspace()}
    available |= BASE_IMAGE_PACKAGES
    ldd = subprocess.run(["ldd", str(kpipe_bin)], capture_output=True, text=True, check=True).stdout
    for path in re.findall(r"=> (/\S+)", ldd):
        if "/pyarrow/" in path or "/confluent_kafka.libs/" in path:
            continue  # from a wheel: scripts/stage-runtime copies them (tested below)
        owner = owning_package(path)
        assert owner in available, f"kpipe loads {path} from {owner}, which the runtime stage does not install"


def test_debian_12s_node_satisfies_package_json():
    """The build stage's Node is Debian 12's (scripts/bootstrap-web installs it): package.json's
    engines must admit it, since the image runs `npm ci` with it."""
    if "VERSION_CODENAME=bookworm" not in Path("/etc/os-release").read_text() or not shutil.which("apt-cache"):
        pytest.skip("Debian 12's Node version is read from its package lists: checked on Debian 12 only")
    madison = subprocess.run(["apt-cache", "madison", "nodejs"], capture_output=True, text=True).stdout
    debian = [line.split("|")[1].strip() for line in madison.splitlines()
              if re.search(r"deb\.debian\.org/debian(-security)? bookworm", line)]
    if not debian:
        pytest.skip("no Debian 12 nodejs in the package lists: run apt-get update")
    major = max(int(re.match(r"(?:\d+:)?(\d+)\.", v).group(1)) for v in debian)
    engines = json.loads((REPO_ROOT / "package.json").read_text())["engines"]["node"]
    m = re.fullmatch(r">=\s*(\d+)(?:\.\d+)*", engines)
    assert m, f"package.json engines.node is {engines!r}: this test reads a '>=N' range"
    assert major >= int(m.group(1)), \
        f"package.json asks for Node {engines}, but the image builds with Debian 12's Node {major}"


def owning_package(path: str) -> str:
    candidates = {path, os.path.realpath(path)}
    for c in list(candidates):  # merged /usr: dpkg may know the file under the other name
        candidates |= {re.sub(r"^/lib/", "/usr/lib/", c), re.sub(r"^/usr/lib/", "/lib/", c)}
    for c in sorted(candidates):
        p = subprocess.run(["dpkg", "-S", c], capture_output=True, text=True)
        if p.returncode == 0:
            return p.stdout.split(":", 1)[0].strip()
    pytest.fail(f"no Debian package owns {path}")


# --- scripts/stage-runtime and scripts/docker-entrypoint -------------------------------------------

def test_stage_runtime_holds_kpipe_and_every_library_it_needs_beyond_debian(kpipe_bin, tmp_path):
    stage = tmp_path / "stage"
    p = subprocess.run([str(REPO_ROOT / "scripts" / "stage-runtime"), str(kpipe_bin), str(stage)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    binary, libdir = stage / "usr/local/bin/kpipe", stage / "usr/local/lib"
    assert os.access(binary, os.X_OK) and os.access(stage / "usr/local/bin/kpipe-entrypoint", os.X_OK)
    libs = {f.name.split(".so")[0] for f in libdir.iterdir()}
    assert {"libarrow", "libparquet"} <= libs
    assert any(name.startswith("librdkafka") for name in libs), libs
    env = {**clean_env(), "LD_LIBRARY_PATH": str(libdir)}
    ldd = subprocess.run(["ldd", str(binary)], env=env, capture_output=True, text=True, check=True).stdout
    assert "not found" not in ldd, ldd
    for path in re.findall(r"=> (/\S+)", ldd):
        assert Path(path).parent == libdir or re.match(r"^(/usr)?/lib/", path), \
            f"the staged kpipe still loads {path}, which the image does not have"
    p = subprocess.run([str(binary), "version"], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "kpipe" in p.stdout, p.stderr


@pytest.fixture
def entrypoint_dir():
    """A folder other users can reach (pytest's tmp_path is root's alone)."""
    d = Path(tempfile.mkdtemp(prefix="kpipe-entrypoint-"))
    d.chmod(0o755)
    (d / "data").mkdir(mode=0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="the entry point's user switch needs root, as in the container")
@pytest.mark.parametrize("case", ["created by Docker", "missing", "owned by the host user", "started as a user"])
def test_entrypoint_runs_as_a_user_that_owns_the_output(entrypoint_dir, case):
    data = entrypoint_dir / "data" / "output"
    kpipe_uid, host_uid = 41000, 41234
    if case == "created by Docker":  # a bind-mount source Docker made: root's, maybe with old output
        (data / "parquet").mkdir(parents=True)
        (data / "parquet" / "old").write_text("x")
    elif case in ("owned by the host user", "started as a user"):
        data.mkdir(parents=True)
        os.chown(data, host_uid, host_uid)
    probe = 'id -u; id -g; touch "$KPIPE_DATA_DIR/probe"'
    cmd = [str(REPO_ROOT / "scripts" / "docker-entrypoint"), "sh", "-c", probe]
    if case == "started as a user":
        cmd = ["setpriv", f"--reuid={host_uid}", f"--regid={host_uid}", "--clear-groups", *cmd]
    env = {**clean_env(), "KPIPE_DATA_DIR": str(data), "KPIPE_UID": str(kpipe_uid), "KPIPE_GID": str(kpipe_uid)}
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    expected = kpipe_uid if case in ("created by Docker", "missing") else host_uid
    assert p.stdout.split() == [str(expected), str(expected)]
    assert (data / "probe").stat().st_uid == expected
    assert data.stat().st_uid == expected
    if case == "created by Docker":
        assert (data / "parquet" / "old").stat().st_uid == kpipe_uid, "old output must stay writable"
