"""`entrasync sandbox`'s sandbox.env: written private, and on stop cleared from the file it was
written to only, never from a file of the user's that took its place."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from entrasync.errors import EntrasyncError
from entrasync.sandbox.runner import clear_env_file, write_env_file

ENV = {"NEURALTRUST_SCIM_TOKEN": "fake-sandbox-env-token-for-tests"}


def test_a_regular_file_is_written_private_and_removed(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.env"
    path.write_text("export LEFT=over\n")
    path.chmod(0o644)
    written = write_env_file(path, ENV)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    clear_env_file(written)
    assert not path.exists()


def test_a_link_repointed_while_the_sandbox_runs_leaves_its_new_target_alone(
    tmp_path: Path,
) -> None:
    first, other = tmp_path / "real.env", tmp_path / "other.env"
    first.write_text("")
    other.write_text("export OTHER=keep\n")
    link = tmp_path / "sandbox.env"
    link.symlink_to(first)
    written = write_env_file(link, ENV)
    link.unlink()
    link.symlink_to(other)
    clear_env_file(written)
    assert first.read_text() == ""  # the credentials are gone from the file that held them
    assert other.read_text() == "export OTHER=keep\n"
    assert link.is_symlink()


def test_a_file_the_user_put_in_its_place_is_left_alone(tmp_path: Path) -> None:
    path, project = tmp_path / "sandbox.env", tmp_path / "project.env"
    project.write_text("export KEEP=me\n")
    written = write_env_file(path, ENV)
    path.unlink()
    path.symlink_to(project)
    clear_env_file(written)
    assert project.read_text() == "export KEEP=me\n"


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_file_or_folder_made_in_its_place_is_left_alone_and_unremarked(
    tmp_path: Path, kind: str
) -> None:
    """Made right after the removal, it may reuse the inode the sandbox's file had."""
    path = tmp_path / "sandbox.env"
    written = write_env_file(path, ENV)
    path.unlink()
    if kind == "file":
        path.write_text("export MINE=1\n")
    else:
        path.mkdir()
    clear_env_file(written)
    assert path.is_file() if kind == "file" else path.is_dir()


def test_a_file_in_a_folder_reached_through_a_link_is_removed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    written = write_env_file(tmp_path / "link" / "sandbox.env", ENV)
    clear_env_file(written)
    assert not (tmp_path / "real" / "sandbox.env").exists()


def test_a_link_to_a_folder_is_refused_and_the_folder_keeps_its_mode(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir(mode=0o755)
    (tmp_path / "sandbox.env").symlink_to(folder)
    with pytest.raises(EntrasyncError):
        write_env_file(tmp_path / "sandbox.env", ENV)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755


def test_a_file_that_cannot_be_removed_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sandbox.env"
    written = write_env_file(path, ENV)

    def refused(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(13, "Permission denied")

    # As root (CI), no mode or folder refuses the removal: the OS's refusal is stood in for.
    monkeypatch.setattr(Path, "unlink", refused)
    with pytest.raises(EntrasyncError) as caught:
        clear_env_file(written)
    assert caught.value.message == (
        f"could not clear the sandbox's credentials from {path}: Permission denied"
    )
    assert "remove the file by hand" in (caught.value.hint or "")


def test_sourced_it_unsets_what_a_real_tenants_shell_holds_and_the_sandbox_does_not_set(
    tmp_path: Path,
) -> None:
    """A ready token in the shell was taken over the sandbox's client secret: sent to the
    sandbox's Graph, it was refused with a hint about a real tenant's expired token."""
    path = tmp_path / "sandbox.env"
    write_env_file(path, {**ENV, "ENTRASYNC_CONFIG": str(tmp_path / "mappings.yaml")})
    shell = (
        "export ENTRASYNC_GRAPH_TOKEN=fake-real-graph-token-for-tests "
        f"AZURE_FEDERATED_TOKEN_FILE=/x; . {path}; "
        'echo "${ENTRASYNC_GRAPH_TOKEN-unset} ${AZURE_FEDERATED_TOKEN_FILE-unset} '
        '$NEURALTRUST_SCIM_TOKEN $ENTRASYNC_CONFIG"'
    )
    said = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, check=True)
    assert said.stdout == (
        f"unset unset fake-sandbox-env-token-for-tests {tmp_path / 'mappings.yaml'}\n"
    )
