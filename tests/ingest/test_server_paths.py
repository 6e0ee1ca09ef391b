"""Typed server paths: allowed folders only, symlinks resolved, one message for every refusal."""

from __future__ import annotations

import os

import pytest

from cx_core.ingest.server_paths import (
    REFUSED,
    ServerPathRefused,
    allowed_roots,
    check_server_path,
    server_paths_enabled,
)


@pytest.fixture
def layout(tmp_path):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "sub").mkdir()
    (allowed / "orders.csv").write_text("a,b\n1,2\n")
    (allowed / "sub" / "reviews.csv").write_text("t\nx\n")
    outside = tmp_path / "secret.env"
    outside.write_text("DB_PASSWORD=x\n")
    (allowed / "innocent.csv").symlink_to(outside)
    (allowed / "dirlink").symlink_to(tmp_path)
    (allowed / "inner.csv").symlink_to(allowed / "orders.csv")
    return allowed, outside


def test_allowed_files_resolve(layout):
    allowed, _ = layout
    assert check_server_path(str(allowed / "orders.csv"), str(allowed)) == allowed / "orders.csv"
    assert check_server_path("sub/reviews.csv", str(allowed)) == allowed / "sub" / "reviews.csv"
    assert check_server_path("inner.csv", str(allowed)) == allowed / "orders.csv"


@pytest.mark.parametrize(
    "attempt",
    [
        "innocent.csv",
        "dirlink/secret.env",
        "../secret.env",
        "sub/../../secret.env",
        "/etc/passwd",
        "missing.csv",
        "sub",
        "",
        "   ",
        "orders.csv\x00.txt",
        "~/.bashrc",
        "/proc/self/environ",
    ],
)
def test_every_refusal_has_the_same_words(layout, attempt):
    allowed, _ = layout
    with pytest.raises(ServerPathRefused) as err:
        check_server_path(attempt, str(allowed))
    assert str(err.value) == REFUSED


def test_off_without_configured_folders(layout):
    allowed, outside = layout
    assert not server_paths_enabled("")
    assert not server_paths_enabled("relative/dir, /no/such/folder")
    with pytest.raises(ServerPathRefused):
        check_server_path(str(allowed / "orders.csv"), "")


def test_several_roots(tmp_path, layout):
    allowed, _ = layout
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.csv").write_text("a\n1\n")
    setting = f"{allowed}{os.pathsep}{other}"
    assert [r.name for r in allowed_roots(setting)] == ["allowed", "other"]
    assert check_server_path(str(other / "x.csv"), setting).name == "x.csv"
    assert check_server_path(str(other / "x.csv"), f"{allowed}, {other}").name == "x.csv"
