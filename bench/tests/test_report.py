"""Pure tests for the benchmark arithmetic: percentiles, reach, the knee, explanations."""

import math

import pytest

from bench.report import (
    StepResult,
    find_knee,
    percentile,
    ratio,
    step_explanations,
    step_table,
    summarize_latencies,
)


def step(
    rate: float,
    *,
    p99: float = 10.0,
    sent: int = 100,
    received: int | None = None,
    members: int = 10,
    late: int = 0,
    recovered: int = 0,
    refused: int = 0,
) -> StepResult:
    received = sent * members if received is None else received
    return StepResult(
        target="t",
        rate=rate,
        seconds=1.0,
        sent=sent,
        members=members,
        received=received,
        deliveries_per_s=received,
        p50=p99 / 2,
        p95=p99 * 0.9,
        p99=p99,
        recovered=recovered,
        refused=refused,
        max=p99,
        late=late,
    )


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1, 2, 3, 4, 5], 50, 3),
        ([1, 2, 3, 4], 50, 2.5),
        ([1, 2, 3, 4, 5], 0, 1),
        ([1, 2, 3, 4, 5], 100, 5),
        ([7], 99, 7),
        (list(range(1, 101)), 99, 99.01),
        (list(range(1, 101)), 95, 95.05),
    ],
)
def test_percentile_interpolates_linearly_between_ranks(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_nan():
    assert math.isnan(percentile([], 50))


def test_percentile_outside_0_100_is_an_error():
    with pytest.raises(ValueError):
        percentile([1, 2], 101)


def test_summarize_sorts_its_input():
    s = summarize_latencies([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (s["p50"], s["max"], s["n"]) == (3.0, 5.0, 5)


def test_reach_is_received_over_sent_times_members():
    s = step(100, sent=10, members=20, received=150)
    assert s.expected == 200
    assert s.reach == pytest.approx(0.75)


def test_knee_is_the_highest_step_with_full_reach_and_p99_within_limit():
    steps = [step(50), step(100, p99=200), step(200, p99=300), step(400, p99=900)]
    assert find_knee(steps).rate == 100


def test_a_step_missing_one_delivery_is_not_the_knee_however_fast():
    steps = [step(50), step(100, received=999)]
    assert find_knee(steps).rate == 50


def test_p99_exactly_at_the_limit_passes():
    assert find_knee([step(50, p99=250.0)]).rate == 50


def test_no_knee_when_every_step_fails():
    assert find_knee([step(50, p99=251), step(100, received=0)]) is None


def test_nothing_sent_never_passes():
    assert not step(50, sent=0).passes()


def test_ratio_of_missing_figures_is_nan():
    assert math.isnan(ratio(None, 10))
    assert math.isnan(ratio(10, 0))
    assert ratio(8, 10) == pytest.approx(0.8)


def test_explanations_split_missing_into_late_and_dropped():
    s = step(100, sent=10, members=10, received=90, late=4)
    (text,) = step_explanations(s)
    assert "10 of 100 deliveries not live in time" in text
    assert "4 arrived after the drain window" in text
    assert "6 never arrived (lost)" in text


def test_with_back_fill_lost_is_what_neither_the_socket_nor_the_back_fill_brought():
    s = step(100, sent=10, members=10, received=90, recovered=7)
    s.backfilled = True
    assert s.lost == 3
    (text,) = step_explanations(s)
    assert "7 came through the clients' back-fill" in text
    assert "3 never arrived (lost)" in text


def test_refused_sends_are_owed_to_nobody():
    s = step(100, sent=10, members=10, received=80, refused=2)
    assert (s.expected, s.lost, s.reach) == (80, 0, 1.0)


def test_table_marks_failures_and_names_the_knee():
    table = step_table("t", [step(50), step(100, p99=400)])
    assert "knee: 50 msgs/s" in table
    assert "NO" in table and "p99 400.0 ms > 250 ms" in table
