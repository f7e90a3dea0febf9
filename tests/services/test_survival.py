"""Kaplan–Meier and log-rank against lifelines (an independent implementation) on random and tied data."""

from __future__ import annotations

import math
import random

import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test

from kfexplorer.services.survival import chi_square_1df_survival, kaplan_meier, log_rank_test


def _random_data(rng: random.Random, size: int, scale: float, tied: bool) -> tuple[list[float], list[bool]]:
    if tied:  # whole years: many ties, events and censoring at the same times
        durations = [float(rng.randint(0, 12)) for _ in range(size)]
    else:
        durations = [rng.expovariate(1.0 / scale) for _ in range(size)]
    events = [rng.random() < 0.6 for _ in range(size)]
    return durations, events


@pytest.mark.parametrize(("seed", "tied"), [(1, False), (2, True), (3, True), (4, False)])
def test_kaplan_meier_matches_lifelines(seed: int, tied: bool) -> None:
    rng = random.Random(seed)
    durations, events = _random_data(rng, 150, 5.0, tied)
    ours = kaplan_meier(durations, events)
    fitter = KaplanMeierFitter().fit(durations, events)
    table = fitter.event_table
    for time in sorted(set(durations)) + [0.0, 0.5, 100.0]:
        expected = float(fitter.survival_function_at_times([time]).iloc[0])
        assert ours.survival_at(time) == pytest.approx(expected, abs=1e-12), time
    for time in sorted(set(durations)):
        row = table.loc[time]
        assert ours.at_risk_at(time) == int(row["at_risk"])
        index = ours.times.index(time)
        assert ours.events[index] == int(row["observed"])
        assert ours.censored[index] == int(row["censored"])
    expected_median = fitter.median_survival_time_
    assert (ours.median() if ours.median() is not None else math.inf) == pytest.approx(expected_median)
    # censor marks sit on the curve at censoring times
    marks = ours.censor_marks()
    assert {t for t, _ in marks} == {d for d, e in zip(durations, events, strict=True) if not e}
    assert all(s == pytest.approx(ours.survival_at(t)) for t, s in marks)


@pytest.mark.parametrize(("seed", "tied", "shift"), [(5, False, 1.0), (6, True, 1.0), (7, False, 2.5),
                                                     (8, True, 1.8)])
def test_log_rank_matches_lifelines(seed: int, tied: bool, shift: float) -> None:
    rng = random.Random(seed)
    durations_a, events_a = _random_data(rng, 80, 5.0, tied)
    durations_b, events_b = _random_data(rng, 60, 5.0 * shift, tied)
    if tied:
        durations_b = [min(12.0, round(d * shift)) for d in durations_b]
    ours = log_rank_test(durations_a, events_a, durations_b, events_b)
    theirs = logrank_test(durations_a, durations_b, event_observed_A=events_a, event_observed_B=events_b)
    assert ours.statistic == pytest.approx(float(theirs.test_statistic), rel=1e-9)
    assert ours.p_value == pytest.approx(float(theirs.p_value), rel=1e-9)
    assert ours.observed == (sum(events_a), sum(events_b))


def test_log_rank_degenerate_and_chi_square_tail() -> None:
    assert log_rank_test([1.0, 2.0], [False, False], [3.0], [False]).p_value == 1.0
    assert log_rank_test([], [], [1.0, 2.0], [True, True]).p_value == 1.0
    # the 1-df chi-square tail at the familiar critical values
    assert chi_square_1df_survival(3.841458820694124) == pytest.approx(0.05, rel=1e-9)
    assert chi_square_1df_survival(6.634896601021214) == pytest.approx(0.01, rel=1e-9)


def test_kaplan_meier_hand_example_and_input_checks() -> None:
    # 6 subjects: events at 1, 3, 3; censored at 2, 4, 5
    curve = kaplan_meier([1, 2, 3, 3, 4, 5], [True, False, True, True, False, False])
    assert curve.survival_at(1) == pytest.approx(5 / 6)
    assert curve.survival_at(3) == pytest.approx(5 / 6 * (1 - 2 / 4))
    assert curve.at_risk_at(3) == 4 and curve.at_risk_at(4.5) == 1 and curve.at_risk_at(6) == 0
    xs, ys = curve.step_points()
    assert xs[:3] == [0.0, 1.0, 1.0] and ys[:3] == [1.0, 1.0, pytest.approx(5 / 6)]
    with pytest.raises(ValueError):
        kaplan_meier([1.0, -1.0], [True, True])
    with pytest.raises(ValueError):
        kaplan_meier([1.0], [True, False])
