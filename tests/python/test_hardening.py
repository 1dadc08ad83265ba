"""Regressions of the hardening issue that live outside any one estimator: a folder given as a
model path, and saves beside stale or planted temporary files."""

import os

import numpy as np
import pytest

import comptoir
from comptoir.propensity import LogisticRegression
from comptoir.recommend import Popularity, SessionKNN
from comptoir.trees import GradientBoostingClassifier


@pytest.mark.parametrize("cls", [LogisticRegression, GradientBoostingClassifier, SessionKNN, Popularity])
def test_a_folder_as_a_model_path_is_a_model_format_error(tmp_path, cls):
    with pytest.raises(comptoir.ModelFormatError, match="not a regular file"):
        cls.load(tmp_path)
    with pytest.raises(comptoir.ModelFormatError, match="not a regular file"):
        comptoir.load_model(tmp_path)


def test_saving_removes_a_dead_savers_temporary_file_and_keeps_a_live_ones(tmp_path):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)  # a pid no process has any more
    stale = tmp_path / f"knn.cmf.tmp.{pid}.Ab12Cd"
    live = tmp_path / f"knn.cmf.tmp.{os.getpid()}.Ef34Gh"
    stale.write_bytes(b"half a model")
    live.write_bytes(b"another save under way")
    model = SessionKNN().fit([[0, 1], [0, 2], [1, 2]], num_items=3)
    model.save(tmp_path / "knn.cmf")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["knn.cmf", live.name])
    ids, _ = SessionKNN.load(tmp_path / "knn.cmf").recommend_session([0], N=2)
    assert len(np.asarray(ids)) == 2


def test_session_knn_fallback_follows_online_sessions_and_survives_a_round_trip(tmp_path):
    """The issue's repro: ten online sessions of item 3 make it the most popular item."""
    model = SessionKNN().fit([[0, 1], [0, 2], [0, 3], [1, 2], [4]], num_items=5)
    for t in range(10):
        model.add_session([3], timestamp=100 + t)
    ids, scores = model.recommend_session([], N=5)
    assert list(np.asarray(ids)) == [3, 0, 1, 2, 4]
    scores = np.asarray(scores)
    assert (np.diff(scores) <= 0).all() and (scores > -1).all() and (scores < 0).all()
    model.save(tmp_path / "knn.cmf")
    again_ids, again_scores = SessionKNN.load(tmp_path / "knn.cmf").recommend_session([], N=5)
    assert list(np.asarray(again_ids)) == [3, 0, 1, 2, 4]
    np.testing.assert_array_equal(np.asarray(again_scores), scores)
