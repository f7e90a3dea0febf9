"""Kaplan–Meier survival estimates and the two-group log-rank test, Qt-free and written from the formulas.

Kaplan–Meier: at each distinct time t_i with d_i events among n_i still at risk, S(t) = Π_{t_i ≤ t} (1 − d_i / n_i).
Subjects censored at t_i count as at risk at t_i (events come first, as is the convention).

Log-rank (Mantel–Haenszel): over the distinct event times of both groups pooled, O_1 = Σ d_1i,
E_1 = Σ d_i n_1i / n_i, V = Σ d_i (n_1i / n_i)(1 − n_1i / n_i)(n_i − d_i) / (n_i − 1); the statistic
(O_1 − E_1)² / V is chi-square with 1 degree of freedom, whose upper tail is erfc(√(x / 2)).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan–Meier curve: one step per distinct time (the first point is time 0, survival 1)."""

    times: tuple[float, ...]
    survival: tuple[float, ...]
    at_risk: tuple[int, ...]  # subjects at risk just before each time
    events: tuple[int, ...]
    censored: tuple[int, ...]
    subjects: int

    def survival_at(self, time: float) -> float:
        """S(time): the value of the step function (right-continuous)."""
        index = bisect.bisect_right(self.times, time) - 1
        return self.survival[max(index, 0)]

    def at_risk_at(self, time: float) -> int:
        """Subjects still under observation at `time` (time ≥ their own time), as a numbers-at-risk table shows."""
        index = bisect.bisect_left(self.times, time)
        if index >= len(self.times):
            return 0
        return self.at_risk[index]

    def censor_marks(self) -> list[tuple[float, float]]:
        """(time, survival) of every time with censored subjects: where a curve draws its ticks."""
        return [(t, s) for t, s, c in zip(self.times, self.survival, self.censored, strict=True) if c > 0]

    def median(self) -> float | None:
        """The first time the curve falls to 0.5 or below, or None when it never does."""
        for time, value in zip(self.times, self.survival, strict=True):
            if value <= 0.5:
                return time
        return None

    def step_points(self) -> tuple[list[float], list[float]]:
        """x, y of the step curve as a polyline (horizontal, then vertical at each drop), to the last time."""
        xs: list[float] = [self.times[0]]
        ys: list[float] = [self.survival[0]]
        for time, value in zip(self.times[1:], self.survival[1:], strict=True):
            xs += [time, time]
            ys += [ys[-1], value]
        return xs, ys


def kaplan_meier(durations: Sequence[float], events: Sequence[bool]) -> KaplanMeier:
    """The Kaplan–Meier estimate of `durations` (≥ 0) with `events` (True = event observed, False = censored)."""
    if len(durations) != len(events):
        raise ValueError("durations and events must have the same length")
    if any(d < 0 or math.isnan(d) for d in durations):
        raise ValueError("durations must be non-negative numbers")
    tallies: dict[float, list[int]] = {}
    for duration, event in zip(durations, events, strict=True):
        tally = tallies.setdefault(float(duration), [0, 0])
        tally[0 if event else 1] += 1
    times: list[float] = [0.0]
    survival: list[float] = [1.0]
    at_risk: list[int] = [len(durations)]
    event_counts: list[int] = [0]
    censored: list[int] = [0]
    remaining = len(durations)
    current = 1.0
    for time in sorted(tallies):
        died, lost = tallies[time]
        if remaining > 0 and died:
            current *= 1.0 - died / remaining
        if time == 0.0:
            event_counts[0], censored[0], survival[0] = died, lost, current
        else:
            times.append(time)
            survival.append(current)
            at_risk.append(remaining)
            event_counts.append(died)
            censored.append(lost)
        remaining -= died + lost
    return KaplanMeier(tuple(times), tuple(survival), tuple(at_risk), tuple(event_counts), tuple(censored),
                       len(durations))


@dataclass(frozen=True)
class LogRankResult:
    statistic: float
    p_value: float
    observed: tuple[int, int]
    expected: tuple[float, float]


def chi_square_1df_survival(statistic: float) -> float:
    """P(X ≥ statistic) for X chi-square with 1 degree of freedom."""
    if statistic <= 0:
        return 1.0
    return math.erfc(math.sqrt(statistic / 2.0))


def log_rank_test(durations_a: Sequence[float], events_a: Sequence[bool],
                  durations_b: Sequence[float], events_b: Sequence[bool]) -> LogRankResult:
    """The two-group log-rank test; p = 1 when there is no event or no variance (e.g. an empty group)."""
    pooled: dict[float, list[int]] = {}  # time -> [events a, events b, leaving a, leaving b]
    for group, (durations, events) in enumerate(((durations_a, events_a), (durations_b, events_b))):
        if len(durations) != len(events):
            raise ValueError("durations and events must have the same length")
        for duration, event in zip(durations, events, strict=True):
            row = pooled.setdefault(float(duration), [0, 0, 0, 0])
            row[2 + group] += 1
            if event:
                row[group] += 1
    at_risk_a, at_risk_b = len(durations_a), len(durations_b)
    observed_a = observed_b = 0
    expected_a = variance = 0.0
    for time in sorted(pooled):
        died_a, died_b, leave_a, leave_b = pooled[time]
        died = died_a + died_b
        total = at_risk_a + at_risk_b
        if died and total > 0:
            share = at_risk_a / total
            expected_a += died * share
            if total > 1:
                variance += died * share * (1.0 - share) * (total - died) / (total - 1)
        observed_a += died_a
        observed_b += died_b
        at_risk_a -= leave_a
        at_risk_b -= leave_b
    expected_b = (observed_a + observed_b) - expected_a
    if variance <= 0:
        return LogRankResult(0.0, 1.0, (observed_a, observed_b), (expected_a, expected_b))
    statistic = (observed_a - expected_a) ** 2 / variance
    return LogRankResult(statistic, chi_square_1df_survival(statistic), (observed_a, observed_b),
                         (expected_a, expected_b))
