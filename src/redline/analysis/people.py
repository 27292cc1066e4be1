"""Red teamers: how many attempts each person made, and how concentrated the work was.

The paper found ~80% of attacks came from ~15% of the red team; this module computes
that statement from any store ("X% of attacks come from Y% of people").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def attempts_per_person(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per person, most active first, with cumulative shares of people and attacks.

    Attempts without an author (e.g. automated or comparison-only imports) are left out.
    """
    authored = frame.dropna(subset=["member"])
    if authored.empty:
        return pd.DataFrame(
            columns=["rank", "member", "pool", "n", "share", "cum_share", "cum_people_share"]
        )
    table = (
        authored.groupby("member")
        .agg(n=("attempt_id", "size"), pool=("pool", "first"))
        .reset_index()
        .sort_values(["n", "member"], ascending=[False, True], kind="stable")
        .reset_index(drop=True)
    )
    total = table["n"].sum()
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table["member"] = table["member"].astype("int64")
    table["share"] = table["n"] / total
    table["cum_share"] = table["n"].cumsum() / total
    table["cum_people_share"] = table["rank"] / len(table)
    return table[["rank", "member", "pool", "n", "share", "cum_share", "cum_people_share"]]


@dataclass(frozen=True)
class Concentration:
    """``people`` of ``total_people`` (the most active) made ``attack_share`` of attempts."""

    attack_share: float
    people: int
    total_people: int
    total_attempts: int

    @property
    def people_share(self) -> float:
        return self.people / self.total_people if self.total_people else float("nan")

    def sentence(self) -> str:
        return (
            f"{self.attack_share:.0%} of attacks come from {self.people_share:.1%} of people "
            f"({self.people} of {self.total_people}; {self.total_attempts} attempts)"
        )


def concentration(per_person: pd.DataFrame, attack_share: float = 0.8) -> Concentration:
    """The fewest people (most active first) whose attempts reach ``attack_share``."""
    if per_person.empty:
        return Concentration(attack_share, 0, 0, 0)
    reached = per_person["cum_share"].to_numpy() >= attack_share - 1e-12
    people = int(np.argmax(reached)) + 1
    return Concentration(attack_share, people, len(per_person), int(per_person["n"].sum()))
