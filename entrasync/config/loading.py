"""Reading a mappings file from disk: the only place :mod:`entrasync.config` touches a file.

:func:`load_config` reads the file (bounded, never through a symbolic link) and hands its
bytes to :func:`entrasync.config.models.load_bytes`, which checks them without I/O; so
``entrasync.core``, which builds on the config models, never loads file-reading code.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import yaml

from entrasync.adapters.shell import schema_command
from entrasync.config import DEFAULT_CONFIG
from entrasync.config.models import LoadedConfig, load_bytes
from entrasync.config.source import MAX_CONFIG_BYTES, MAX_DEPTH
from entrasync.core import sanitize
from entrasync.errors import ConfigError


def load_config(path: Path) -> LoadedConfig:
    """Read and check a mappings file; raise ConfigError listing every problem in it."""
    # Named as AppContext.config_name names it, for the comment's marker.
    name = sanitize.file_name(path.as_posix())
    return load_bytes(read_bytes(path), name, schema_command=schema_command())


def elsewhere() -> str | None:
    """How to reach the mappings file a run missed at ``config/mappings.yaml``: ``mappings.yaml``
    here (a run from inside ``config/``, or a repository that keeps it at its top), or the
    ``config/mappings.yaml`` of a folder above, up to the git repository's top (the folder
    above alone outside one); None when there is neither. Only a file that reads as a mappings
    file counts (``mappings.yaml`` is a common name), and a folder that cannot be read holds
    none."""
    if _ours("mappings.yaml"):
        return "pass --config mappings.yaml"
    folders = [Path.cwd(), *Path.cwd().parents]
    top = next((i for i, folder in enumerate(folders) if os.path.exists(folder / ".git")), 1)
    for folder in folders[1 : top + 1]:
        if _ours(folder / DEFAULT_CONFIG):
            near = sanitize.text(os.path.relpath(folder / DEFAULT_CONFIG))
            return f"run entrasync from {sanitize.text(str(folder))}, or pass --config {near}"
    return None


def _ours(path: str | Path) -> bool:
    """Whether ``path`` is a regular file whose top-level mapping says ``version: 1`` (any line
    ends, a BOM, flow style) before any other problem in its first 64 KiB: a mappings file
    with a mistake further on is still the one missed. Only its parse events are read, never a
    whole document: a large or hostile file costs no more than its first 64 KiB."""
    try:
        # Not blocking (a FIFO would wait for a writer), not through a link (read_bytes refuses
        # one, so its hint would fail).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW)
    except OSError:  # none, a link, or not readable
        return False
    try:
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return False
            head = handle.read(65536)
    except OSError:
        return False
    # A character YAML refuses anywhere stops a reader before its first event: blanked, it
    # cannot hide a version line before it.
    text = _NOT_YAML.sub(" ", head.decode("utf-8", "replace"))
    try:
        return _says_version_1(yaml.parse(text, _EVENTS))
    except (yaml.YAMLError, RecursionError):  # before any version key
        return False


_EVENTS: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: fast
# What YAML 1.2 does not take in a stream (section 5.1), as PyYAML's reader checks it.
_NOT_YAML = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _says_version_1(events: Iterator[yaml.Event]) -> bool:
    """Whether a YAML event stream's top-level mapping has ``version`` with a plain 1."""
    for event in events:
        if isinstance(event, yaml.MappingStartEvent):
            break
        if not isinstance(event, yaml.StreamStartEvent | yaml.DocumentStartEvent):
            return False
    for key in events:
        if not isinstance(key, yaml.ScalarEvent):  # the mapping's end, or a complex key
            return False
        value = next(events)
        if key.value == "version":
            return (
                isinstance(value, yaml.ScalarEvent)
                and value.implicit[0]  # plain: `"1"` is text
                and re.fullmatch(r"1(\.0*)?", value.value) is not None
            )
        depth = int(isinstance(value, yaml.CollectionStartEvent))
        while depth:  # past the value's own events, as deep as a mappings file may nest
            inner = next(events)
            depth += isinstance(inner, yaml.CollectionStartEvent)
            depth -= isinstance(inner, yaml.CollectionEndEvent)
            if depth > MAX_DEPTH:  # the pure-Python scanner takes a minute for 64 KiB of "["
                return False
    return False


def read_bytes(path: Path) -> bytes:
    name = sanitize.text(path.as_posix())  # as shown: a line break in it would forge lines
    # ENTRASYNC_CONFIG may have been set long ago, in another shell or CI step: say its value.
    named = os.environ.get("ENTRASYNC_CONFIG")
    hint = (
        "check the path; the mappings file is the FILE given to `validate`, else --config PATH, "
        f"else ENTRASYNC_CONFIG{f' (set to {sanitize.text(named)})' if named else ''}, else "
        "config/mappings.yaml"
    )
    try:
        # Not through a symbolic link: a pull request could commit the mappings file as a link
        # to a file of the runner (its environment, a credential), whose text error messages
        # and the plan would then quote.
        if not _NOFOLLOW and path.is_symlink():
            raise OSError(errno.ELOOP, "symbolic link")
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            # One byte past the limit is enough to refuse the file (parse() does), and a
            # device or pipe that never ends is not read forever.
            return handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        # A relative path is looked for in the current folder: say which, it may be the wrong one.
        where = "" if path.is_absolute() else f" in {sanitize.text(os.getcwd())}"
        near = elsewhere() if name == DEFAULT_CONFIG else None
        if near is not None:
            hint = near
        elif name == DEFAULT_CONFIG:  # a first run, likely: say how to start one
            hint += "; none yet? `entrasync init PREFIX` drafts one from the groups named PREFIX*"
        raise ConfigError(f"config file {name} not found{where}", hint) from None
    except IsADirectoryError:
        raise ConfigError(f"config file {name} is a directory", hint) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(
                f"config file {name} is a symbolic link; entrasync reads only a regular file",
                "name the file itself (--config, ENTRASYNC_CONFIG or a FILE to validate), not a "
                "link to it",
            ) from None
        raise ConfigError(f"cannot read config file {name}: {exc.strerror}", hint) from None


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # POSIX; elsewhere is_symlink() is checked first
