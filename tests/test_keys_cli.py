"""Master keys with real ``ecoach serve`` processes, on both databases: rotation while a
server runs (then the old key is not needed), a missing or wrong key is one clear line
(never a traceback), and data stored before encryption is sealed in place."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from ecoach.core.crypto import MasterKey, new_master_key
from tests.server_process import ServerProcess

EMAIL = "rotatie@example.org"


def ecoach(server: ServerProcess, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ecoach", *args], cwd=server.workdir, env={**server.env, **env},
                          capture_output=True, text=True, timeout=120)


def api(server: ServerProcess, token: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(server.url + path, headers={"Authorization": f"Bearer {token}",
                                                                  "Content-Type": "application/json"},
                                     data=json.dumps(payload).encode() if payload is not None else None)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def start_engagement(server: ServerProcess, name: str) -> int:
    out = server.cli_here("engagement", "add", "--coach", EMAIL, "--name", name, "--email",
                     f"{name.split()[0].lower()}@example.test", "--language", "en")
    return int(out.split()[1])


def say(server: ServerProcess, token: str, engagement_id: int, text: str) -> None:
    api(server, token, f"/api/v1/engagements/{engagement_id}/messages",
        {"client_id": uuid.uuid4().hex[:16], "text": text})


def texts(server: ServerProcess, token: str, engagement_id: int) -> list[str]:
    return [x["text"] for x in api(server, token, f"/api/v1/engagements/{engagement_id}/exchanges")["exchanges"]]


def names(server: ServerProcess, token: str) -> set[str]:
    return {e["coachee"]["name"] for e in api(server, token, "/api/v1/engagements")["engagements"]}


def key_file(path: Path, *keys: MasterKey) -> Path:
    path.write_text("".join(k.line() + "\n" for k in keys))
    return path


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> ServerProcess:
    """A server (not started) whose master keys come from a file only: key ``a`` at first."""
    keys = key_file(tmp_path / "master.key", new_master_key("a"))
    made = ServerProcess(tmp_path, db_url, ECOACH_MASTER_KEYS="", ECOACH_MASTER_KEY_FILE=str(keys))
    made.cli_here("coach", "add", "--name", "Rosa Roteer", "--email", EMAIL, "--password", "rotatie wachtwoord 1")
    return made


def test_rotation_while_a_server_runs_then_the_old_key_is_not_needed(server: ServerProcess, tmp_path: Path) -> None:
    keys = Path(server.env["ECOACH_MASTER_KEY_FILE"])
    first = start_engagement(server, "Anna Voor")
    token = server.cli_here("coach", "token", "--email", EMAIL).strip()
    server.start()
    try:
        say(server, token, first, "geschreven voor de rotatie")
        # A new key, first in the file; every data key gets a wrap under it, while serving.
        assert "first (current) key" in server.cli_here("keys", "new", "--id", "b", "--file", str(keys))
        assert "rotated:" in server.cli("keys", "rotate")  # a real process
        say(server, token, first, "geschreven tijdens de rotatie")
        assert names(server, token) == {"Anna Voor"}
        # Retired: the old wraps are gone and the old key leaves the file. The running server
        # reads the file again when it meets a key wrapped only under b.
        assert "retired" in server.cli_here("keys", "retire", "a")
        key_file(keys, *[k for k in _read(keys) if k.id == "b"])
        second = start_engagement(server, "Bram Na")
        say(server, token, second, "geschreven na de rotatie")
        assert names(server, token) == {"Anna Voor", "Bram Na"}
        assert texts(server, token, first) == ["geschreven voor de rotatie", "geschreven tijdens de rotatie"]
        status = server.cli_here("keys", "status")
        assert "wrapped under b" in status and "wrapped under a" not in status
    finally:
        server.stop()
    server.start()  # only key b, nothing cached: everything opens
    try:
        assert texts(server, token, second) == ["geschreven na de rotatie"]
        assert len(texts(server, token, first)) == 2 and names(server, token) == {"Anna Voor", "Bram Na"}
    finally:
        server.stop()


def _read(path: Path) -> list[MasterKey]:
    from ecoach.core.crypto import parse_master_keys

    return parse_master_keys(path.read_text(), str(path))


def test_a_missing_or_wrong_master_key_is_one_clear_line(server: ServerProcess, tmp_path: Path) -> None:
    start_engagement(server, "Anna Fout")
    cases = [
        ({"ECOACH_MASTER_KEY_FILE": ""}, 2, "no master key: set master_key_file (ECOACH_MASTER_KEY_FILE)"),
        ({"ECOACH_MASTER_KEY_FILE": str(key_file(tmp_path / "wrong.key", MasterKey("a", bytes(32))))}, 1,
         "master key 'a' does not open data key"),
        ({"ECOACH_MASTER_KEY_FILE": str(key_file(tmp_path / "other.key", new_master_key("z")))}, 1,
         "wrapped only by master key(s) a"),
        ({"ECOACH_MASTER_KEY_FILE": "", "ECOACH_ALLOW_PLAINTEXT": "true"}, 1, "holds encrypted personal data"),
        ({"ECOACH_MASTER_KEY_FILE": str(tmp_path / "absent.key")}, 2, "does not exist"),
        ({"ECOACH_MASTER_KEY_FILE": "", "ECOACH_MASTER_KEYS": "a:short"}, 2, "not 32 bytes"),
    ]
    for n, (env, code, message) in enumerate(cases):
        commands = [["serve"], ["engagement", "add", "--coach", EMAIL, "--name", "X"]][:2 if n < 2 else 1]
        for command in commands:
            # The first case in real processes (what an operator sees on the terminal); the
            # others in this interpreter, its log records going to the same stderr.
            done = ecoach(server, *command, **env) if n == 0 else server.here(*command, **env)
            assert done.returncode == code, (env, command, done.stderr)
            assert message in done.stderr and "Traceback" not in done.stderr, (env, command, done.stderr)
            assert done.stderr.strip().splitlines()[-1].startswith("ecoach: "), done.stderr


def test_data_stored_in_plaintext_is_sealed_in_place(db_url: str, tmp_path: Path) -> None:
    from tests.privacy_scan import occurrences

    plain = ServerProcess(tmp_path, db_url, ECOACH_MASTER_KEYS="", ECOACH_ALLOW_PLAINTEXT="true")
    plain.cli_here("coach", "add", "--name", "Pim Plat", "--email", EMAIL, "--password", "rotatie wachtwoord 1")
    engagement = start_engagement(plain, "Zoekbaremarkeernaam Plat")
    token = plain.cli_here("coach", "token", "--email", EMAIL).strip()
    plain.start()
    try:
        say(plain, token, engagement, "een Leesbaremarkeertekst in platte tekst")
    finally:
        plain.stop()
    markers = ["Zoekbaremarkeernaam", "Leesbaremarkeertekst"]
    assert all(occurrences(db_url, tmp_path, markers).values())
    keys = key_file(tmp_path / "master.key", new_master_key("a"))
    sealed = ServerProcess(tmp_path, db_url, ECOACH_MASTER_KEYS="", ECOACH_MASTER_KEY_FILE=str(keys))
    assert "sealed" in sealed.cli("keys", "encrypt-existing")
    assert "every stored value is sealed" in sealed.cli_here("keys", "status")
    assert occurrences(db_url, tmp_path, markers, after_checkpoint=True) == {m: 0 for m in markers}
    sealed.start()
    try:
        assert texts(sealed, token, engagement) == ["een Leesbaremarkeertekst in platte tekst"]
        hits = api(sealed, token, "/api/v1/search?q=leesbaremarkeer")["hits"]
        assert [h["exchange"]["text"] for h in hits] == ["een Leesbaremarkeertekst in platte tekst"]
    finally:
        sealed.stop()
