"""Held mail that no coach could be found for is listed for the administrator (never to
every coach) and handed to the right coach with ``ecoach quarantine``."""

from __future__ import annotations

import os
import subprocess
import sys

from ecoach.actions.quarantine import get_quarantine
from tests.audit_support import run_cli
from tests.mail_support import build_mail, make_world, take


def ecoach(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ECOACH_DATABASE_URL": db_url, "ECOACH_SECRET_KEY": "test-secret-key"}
    return subprocess.run([sys.executable, "-m", "ecoach", *args], env=env, capture_output=True, text=True,
                          timeout=60)


async def test_unowned_mail_is_listed_and_handed_to_a_coach(  # type: ignore[no-untyped-def]
    db_url, sessions, hub, clock, monkeypatch, capsys,
) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, second_coach=True)
    outcome = await take(world, sessions, hub, clock, build_mail(sender="stranger@example.test", subject="Intake?"))
    assert outcome.kind == "quarantine" and outcome.quarantine.coach_id is None
    async with sessions() as session:  # on nobody's page yet
        assert await get_quarantine(session, world.coach_id) == []
        assert await get_quarantine(session, world.other_coach_id) == []

    listed = ecoach(db_url, "quarantine", "list")  # the command as installed; the rest in this interpreter
    assert listed.returncode == 0, listed.stderr
    assert "stranger@example.test" in listed.stdout and "'Intake?'" in listed.stdout

    code, _out, err = await run_cli(monkeypatch, capsys, db_url, "quarantine", "give", str(outcome.quarantine.id),
                                    "--coach", "nobody@coaching.test")
    assert code == 1 and "no coach with this e-mail address" in err
    code, _out, err = await run_cli(monkeypatch, capsys, db_url, "quarantine", "give", str(outcome.quarantine.id),
                                    "--coach", world.coach_email)
    assert code == 0, err

    async with sessions() as session:
        [entry] = await get_quarantine(session, world.coach_id)
        assert entry.id == outcome.quarantine.id
        assert await get_quarantine(session, world.other_coach_id) == []
    assert "no held mail without a coach" in (await run_cli(monkeypatch, capsys, db_url, "quarantine", "list"))[1]
    code, _out, err = await run_cli(monkeypatch, capsys, db_url, "quarantine", "give", str(entry.id),
                                    "--coach", world.other_coach_email)
    assert code == 1 and "already with another coach" in err
