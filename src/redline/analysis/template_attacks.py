"""Template attacks: near-duplicate attempts (task description + first human message).

Some red teamers reuse one opening with small edits (the paper calls these template
attacks: a source of noise in the data, and of inflated counts). Texts are compared by
the Jaccard similarity of their character 5-gram sets, estimated with MinHash
signatures and found through LSH banding (both in vectorised NumPy, since a per-text
Python MinHash took ~25 s for 39k texts). Within each LSH bucket a text joins the
bucket's first text (its leader) when their estimated similarity reaches ``threshold``.
Groups are leaders with their followers, not connected components: transitive closure
chains loosely similar texts into one giant group ("a~b, b~c" does not make "a~c").

An attempt is a *template attempt* when its group holds at least ``min_repeats``
attempts by the same person; a person's template share is the share of their attempts
that are template attempts. Groups are flagged when some person repeats in them that often.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

_PRIME = np.uint64((1 << 61) - 1)
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    return _SPACES.sub(" ", text.lower()).strip()


def shingle_matrix(texts: list[str], n: int = 5) -> sparse.csr_matrix:
    """Binary texts x hashed character n-grams (2^22 buckets)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    vectorizer = HashingVectorizer(
        analyzer="char",
        ngram_range=(n, n),
        n_features=1 << 22,
        binary=True,
        norm=None,
        alternate_sign=False,
        lowercase=False,
        dtype=np.float32,
    )
    return vectorizer.transform(texts).tocsr()


def minhash_signatures(matrix: sparse.csr_matrix, num_perm: int = 32, seed: int = 0) -> np.ndarray:
    """texts x num_perm MinHash signature (universal hashing of the shingle ids)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 1 << 61, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, 1 << 61, size=num_perm, dtype=np.uint64)
    ids = matrix.indices.astype(np.uint64)
    n = matrix.shape[0]
    sig = np.full((n, num_perm), np.iinfo(np.uint64).max, dtype=np.uint64)
    nonempty = np.flatnonzero(np.diff(matrix.indptr) > 0)
    starts = matrix.indptr[nonempty]
    for k in range(num_perm):
        hashed = (a[k] * ids + b[k]) % _PRIME  # wraps mod 2^64 first: still a good mixer
        if len(nonempty):
            sig[nonempty, k] = np.minimum.reduceat(hashed, starts)
    return sig


def near_duplicate_groups(
    texts: list[str], *, threshold: float = 0.8, bands: int = 8, seed: int = 0
) -> np.ndarray:
    """A group id per text; texts without a near duplicate get a group of their own."""
    n = len(texts)
    if n == 0:
        return np.zeros(0, dtype=int)
    sig = minhash_signatures(shingle_matrix([normalise(t) for t in texts]), seed=seed)
    rows = sig.shape[1] // bands
    edges_a: list[np.ndarray] = []
    edges_b: list[np.ndarray] = []
    for band in range(bands):
        block = np.ascontiguousarray(sig[:, band * rows : (band + 1) * rows])
        keys = block.view(np.dtype((np.void, block.dtype.itemsize * rows))).ravel()
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        rep = first[inverse.ravel()]
        others = np.flatnonzero(rep != np.arange(n))
        if len(others) == 0:
            continue
        similarity = (sig[others] == sig[rep[others]]).mean(axis=1)
        keep = others[similarity >= threshold]
        edges_a.append(keep)
        edges_b.append(rep[keep])
    group = np.arange(n)
    if edges_a:
        a, b = np.concatenate(edges_a), np.concatenate(edges_b)
        np.minimum.at(group, a, b)  # join the lowest-numbered leader found in any band
    return group


@dataclass
class TemplateReport:
    """Per-attempt groups, flagged groups with examples, per-person template shares."""

    attempts: pd.DataFrame  # attempt_id, member, group, template
    groups: pd.DataFrame  # flagged groups: group, n, n_people, top_member, top_count, examples
    people: pd.DataFrame  # member, n, n_template, template_share (sorted, highest first)
    threshold: float
    min_repeats: int

    @property
    def n_template_attempts(self) -> int:
        return int(self.attempts["template"].sum()) if len(self.attempts) else 0


def template_attacks(
    texts: pd.DataFrame,
    frame: pd.DataFrame,
    *,
    threshold: float = 0.8,
    min_repeats: int = 3,
    examples: int = 3,
) -> TemplateReport:
    """Find template attacks among attempts with an author."""
    data = texts[["attempt_id", "task_description", "first_human"]].merge(
        frame[["attempt_id", "member"]], on="attempt_id"
    )
    data = data.dropna(subset=["member"]).reset_index(drop=True)
    keys = (data["task_description"].fillna("") + " || " + data["first_human"].fillna("")).tolist()
    data["group"] = near_duplicate_groups(keys, threshold=threshold)
    data["key"] = keys
    per_member_group = data.groupby(["group", "member"])["attempt_id"].transform("size")
    data["template"] = per_member_group >= min_repeats

    flagged = []
    for group, members in data[data["template"]].groupby("group"):
        everyone = data[data["group"] == group]
        counts = everyone["member"].value_counts()
        flagged.append(
            {
                "group": int(group),
                "n": len(everyone),
                "n_people": int(everyone["member"].nunique()),
                "top_member": int(counts.index[0]),
                "top_count": int(counts.iloc[0]),
                "examples": everyone["key"].head(examples).tolist(),
            }
        )
        del members
    groups = pd.DataFrame(
        flagged, columns=["group", "n", "n_people", "top_member", "top_count", "examples"]
    )
    groups = groups.sort_values("n", ascending=False).reset_index(drop=True)
    people = (
        data.groupby("member")
        .agg(n=("attempt_id", "size"), n_template=("template", "sum"))
        .reset_index()
    )
    people["member"] = people["member"].astype("int64")
    people["n_template"] = people["n_template"].astype("int64")
    people["template_share"] = people["n_template"] / people["n"]
    people = people.sort_values(["template_share", "n"], ascending=False).reset_index(drop=True)
    return TemplateReport(
        data[["attempt_id", "member", "group", "template"]], groups, people, threshold, min_repeats
    )
