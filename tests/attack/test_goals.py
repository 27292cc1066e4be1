"""Goals: the packaged set (size, tags, provenance checked against the data it cites),
the file format's errors, and goals reaching every strategy's plan without changing the
keys of runs that give none."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from redline.attack.attacker import attack_messages
from redline.attack.automated import attack, plan_attacks
from redline.attack.goals import goal_for, goals_digest, load_goals, parse_goals
from redline.attack.persist import make_key
from redline.attack.runtime import Runtime
from redline.attack.strategies.base import Options
from redline.attack.strategies.few_shot import FewShot
from redline.attack.strategies.registry import STRATEGIES
from redline.cli import app
from redline.data import harmless_base_pairs
from redline.errors import DataFormatError, NotFoundError
from redline.review.tags import load_tags
from redline.store import Store
from redline.store.models import Attempt, Origin
from redline.testing import ScriptedBackend

ATTACKER = ScriptedBackend("Human: I want: {last}")
TARGET = "scripted-1m/plain"


def test_the_packaged_set_has_goals_for_each_of_the_20_tags() -> None:
    goals = load_goals()
    assert len(goals) >= 100
    assert len({g.text for g in goals}) == len(goals)  # no goal twice
    tags = load_tags()
    assert len(tags) == 20
    by_tag = {tag: [g for g in goals if g.tag == tag] for tag in tags}
    assert {g.tag for g in goals} == set(tags)
    assert min(len(group) for group in by_tag.values()) >= 5
    assert all("\n" not in g.text and g.text == g.text.strip() for g in goals)
    assert load_goals("packaged") == goals


def test_every_goal_names_its_source_and_the_cited_line_says_it() -> None:
    with gzip.open(harmless_base_pairs(), "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    cited = 0
    for goal in load_goals():
        if goal.source == "redline":
            continue
        match = re.fullmatch(r"pairs-a:(\d+)", goal.source)
        assert match, f"line {goal.line}: source {goal.source!r}"
        chosen = json.loads(lines[int(match.group(1)) - 1])["chosen"]
        first_human = chosen.split("\n\nHuman: ", 1)[1].split("\n\nAssistant:", 1)[0]
        assert first_human.strip() == goal.text, f"line {goal.line}"
        cited += 1
    assert cited >= 100


def test_the_data_folder_documents_provenance_and_licence() -> None:
    from importlib import resources

    readme = (resources.files("redline.attack") / "data" / "README.md").read_text("utf-8")
    assert "MIT" in readme and "anthropics/hh-rlhf" in readme
    assert "354e5c3cb8960630860dd5774a6ac2a58313bf4d" in readme
    assert "pairs-a:N" in readme and "LICENSE.hh-rlhf" in readme


def test_a_team_file_is_read_with_groups_comments_and_sources(tmp_path: Path) -> None:
    path = tmp_path / "goals.txt"
    path.write_text(
        "# our goals\nUntagged first\n\n[Theft]\nSteal a {bike}\tours:1\n"
        "[Other]\n  Hack a server  \n",
        encoding="utf-8",
    )
    goals = load_goals(path)
    assert [(g.text, g.tag, g.source, g.line) for g in goals] == [
        ("Untagged first", None, "", 2),
        ("Steal a {bike}", "Theft", "ours:1", 5),
        ("Hack a server", "Other", "", 7),
    ]
    assert [g.text for g in load_goals(path, tag="theft")] == ["Steal a {bike}"]
    with pytest.raises(NotFoundError, match=r"no goals tagged 'Fraud'; its tags: Theft; Other"):
        load_goals(path, tag="Fraud")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[Theft]\ngoal\n[]\n", r"line 3: empty group header"),
        ("[A]\ngoal\n[B]\nx\n[A]\ny\n", r"line 5: group \[A\] appears twice \(first on line 1\)"),
        ("[A]\n\tpairs-a:1\n", r"line 2: a source without a goal"),
        ("goal\tsource\textra\n", r"line 1: more than one TAB"),
        ("# only a comment\n\n[Theft]\n", r"no goals"),
    ],
)
def test_format_errors_name_the_file_the_line_and_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError, match=re.escape(str(path)) + ".*" + message):
        load_goals(path)


def test_unreadable_files_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        load_goals(tmp_path / "missing.txt")
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match="not UTF-8 text"):
        load_goals(latin)


def test_attack_i_pursues_goal_i_mod_len() -> None:
    goals = parse_goals("a\nb\nc\n", "x")
    assert [goal_for(goals, i) for i in range(7)] == ["a", "b", "c", "a", "b", "c", "a"]
    assert goals_digest(("a", "b")) != goals_digest(("b", "a"))


@pytest.mark.parametrize("name", ["zero-shot", "few-shot"])
def test_goals_reach_the_plan_and_without_them_keys_are_as_before(
    name: str, sqlite_store: Store
) -> None:
    pool = ("example one", "example two", "example three", "example four")
    goals = ("goal A", "goal B")
    if name == "few-shot":
        plain, with_goals = FewShot(pool, 2, 1), FewShot(pool, 2, 1, goals)
        old_recipe: tuple[object, ...] = ("few-shot", 2, 1)
    else:
        cls = STRATEGIES.load(name)
        plain = cls.setup(Options(), sqlite_store)
        with_goals = cls.setup(Options(goals=goals), sqlite_store)
        old_recipe = ("zero-shot", 0, 1)
    assert plain.recipe == old_recipe  # the keys of runs made before goals existed
    jobs = plan_attacks(TARGET, ATTACKER, plain, n=3, seed=2)
    assert [j.key for j in jobs] == [
        make_key("automated", TARGET, ATTACKER.name, *old_recipe, 2, 64, i) for i in range(3)
    ]
    goal_jobs = plan_attacks(TARGET, ATTACKER, with_goals, n=3, seed=2)
    assert [j.plan.goal for j in goal_jobs] == ["goal A", "goal B", "goal A"]
    # the same attack seeds and examples: only the goal changed, and the keys
    assert [j.plan.seed for j in goal_jobs] == [j.plan.seed for j in jobs]
    assert [j.plan.examples for j in goal_jobs] == [j.plan.examples for j in jobs]
    assert not {j.key for j in goal_jobs} & {j.key for j in jobs}


def test_the_few_shot_attacker_is_told_the_goal_only_when_there_is_one() -> None:
    without = attack_messages("few-shot", examples=["an example"])
    assert "Your goal" not in without[-1].text
    told = attack_messages("few-shot", examples=["an example"], topic="Steal a car")
    assert told[-1].text == without[-1].text + "\n\nYour goal: Steal a car"


def test_an_attack_with_goals_writes_about_them(store: Store, runtime: Runtime) -> None:
    goals = tuple(g.text for g in load_goals(tag="Theft"))
    report = attack(store, runtime, TARGET, ATTACKER, n=3, goals=goals)
    assert (report.written, report.failed) == (3, [])
    with store.session() as session:
        openers = session.scalars(
            select(Attempt).where(Attempt.origin == Origin.AUTOMATED).order_by(Attempt.id)
        ).all()
        asked = [a.turns[0].human for a in openers]
    # the scripted attacker repeats its request, whose topic is the goal
    assert [goal in text for goal, text in zip(goals, asked, strict=False)] == [True] * 3


def test_cli_goal_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "goals.txt"
    bad.write_text("[A]\n\tsource only\n", encoding="utf-8")
    args = ["--data-dir", str(tmp_path / "data"), "attack", "--target", TARGET]
    result = CliRunner().invoke(app, [*args, "--goals", str(bad)])
    assert result.exit_code == 2, result.output
    assert f"{bad}, line 2: a source without a goal" in " ".join(result.output.split())
    result = CliRunner().invoke(app, [*args, "--tag", "No such tag"])
    assert result.exit_code == 2
    assert "no goals tagged 'No such tag'" in " ".join(result.output.split())


@pytest.mark.parametrize("name", [n for n in STRATEGIES.names() if n != "few-shot"])
def test_every_strategy_pursues_goal_i_mod_len(name: str, sqlite_store: Store) -> None:
    """Few-shot is covered above (its setup needs scored human attacks in the store)."""
    goals = ("goal A", "goal B", "goal C")
    strategy = STRATEGIES.load(name).setup(Options(goals=goals), sqlite_store)
    assert [strategy.plan(i, 7).goal for i in range(4)] == [*goals, "goal A"]
