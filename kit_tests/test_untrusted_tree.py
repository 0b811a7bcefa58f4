"""What a call left, read and removed as an outsider would (grader.sandbox.untrusted_tree):
iterative at any depth, no link followed, no special file opened, capped."""

import os
import threading

from grader.sandbox import untrusted_tree
from grader.sandbox.untrusted_tree import Caps


def nested(top, depth, name="d"):
    """``depth`` folders, one inside the other (made relative: the path outgrows PATH_MAX)."""
    top.mkdir()
    here = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=here)
            inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=here)
            os.close(here)
            here = inner
        os.close(os.open("file", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=here))
    finally:
        os.close(here)


def test_a_5000_deep_tree_is_capped_when_read_and_removed_whole(tmp_path):
    top = tmp_path / "left"
    nested(top, 5000, name="n" * 40)  # 200,000 characters of path
    found = untrusted_tree.survey(top)
    assert found.overflow and found.overflow.what == "depth" and found.overflow.cap == 64
    assert found.entries == 64
    assert untrusted_tree.digest(top)[0] is None
    assert not untrusted_tree.copy(top, tmp_path / "copy").within_caps
    assert not (tmp_path / "copy").exists()
    assert untrusted_tree.remove(top) and not top.exists()


def test_unwritable_folders_are_removed_too(tmp_path):
    top = tmp_path / "left"
    (top / "locked" / "inner").mkdir(parents=True)
    (top / "locked" / "inner" / "f").write_text("x")
    (top / "locked" / "inner").chmod(0)
    (top / "locked").chmod(0o500)
    assert untrusted_tree.remove(top) and not top.exists()


def test_a_fifo_is_listed_never_opened_and_a_link_never_followed(tmp_path):
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "secret").write_text("the instructor's")
    top = tmp_path / "left"
    top.mkdir()
    os.mkfifo(top / "fifo")  # opening it for reading would block with no writer
    (top / "to-file").symlink_to(outside / "secret")
    (top / "to-dir").symlink_to(outside)
    (top / os.fsdecode(b"\xff\xfename")).write_bytes(b"not UTF-8")
    done = threading.Event()

    def read_everything():
        assert untrusted_tree.survey(top).special == ["fifo"]
        state, found = untrusted_tree.digest(top)
        assert state is not None and found.entries == 4
        untrusted_tree.copy(top, tmp_path / "copy")
        done.set()

    worker = threading.Thread(target=read_everything, daemon=True)
    worker.start()
    worker.join(10)
    assert done.is_set(), "a walk blocked (a FIFO was opened?)"
    copy = tmp_path / "copy"
    assert sorted(os.listdir(copy)) == sorted(["to-file", "to-dir", os.fsdecode(b"\xff\xfename")])
    assert os.readlink(copy / "to-dir") == str(outside)
    (outside / "secret").write_text("changed")  # a link is hashed by its target, not its content
    assert untrusted_tree.digest(top)[0] == untrusted_tree.digest(top)[0]
    assert untrusted_tree.remove(top) and untrusted_tree.remove(copy)
    assert (outside / "secret").read_text() == "changed" and (outside / "deep").is_dir()


def test_the_caps_on_entries_and_bytes_are_reported(tmp_path):
    top = tmp_path / "left"
    (top / "many").mkdir(parents=True)
    for number in range(30):
        (top / "many" / str(number)).touch()
    found = untrusted_tree.survey(top, Caps(entries=20))
    assert found.overflow.what == "entries" and found.overflow.cap == 20
    with open(top / "sparse", "wb") as handle:
        handle.truncate(200 << 20)  # 200 MB that cost no disk: counted by size
    found = untrusted_tree.survey(top)
    assert found.overflow.what == "bytes" and found.overflow.where == "sparse"
    assert untrusted_tree.remove(top)


def test_hand_over_changes_owners_without_following_links(tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("root's")
    top = tmp_path / "left"
    (top / "sub").mkdir(parents=True)
    (top / "sub" / "link").symlink_to(outside)
    owner = os.stat(outside).st_uid
    if os.geteuid() == 0:
        untrusted_tree.hand_over(top, 54321)
        assert os.lstat(top / "sub" / "link").st_uid == 54321 and os.stat(top / "sub").st_uid == 54321
    assert os.stat(outside).st_uid == owner
