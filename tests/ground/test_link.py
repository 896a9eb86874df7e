"""The link model on its own: a frame arrives exactly `delay_s` after it was put, in order; a seeded
fraction `loss` of frames is lost, the same frames for the same seed."""

from __future__ import annotations

import math

import pytest

from ground.link import Link

DELAY_S = 0.25   # exact in binary: arrival times compare exactly


def losses(link: Link, n: int) -> list[bool]:
    return [link.lost() for _ in range(n)]


def test_a_frame_arrives_delay_after_it_was_put_and_not_before():
    link: Link[str] = Link(loss=0.0, delay_s=DELAY_S, seed=0)
    link.put(100.0, "a")
    assert link.arrived(100.0) == []
    assert link.arrived(100.0 + DELAY_S - 1e-9) == []
    assert link.arrived(100.0 + DELAY_S) == ["a"]
    assert link.arrived(200.0) == []   # delivered once only

    link.put(300.0, "b")
    assert link.arrived(400.0) == ["b"]   # late asking still gets it


def test_with_no_delay_a_frame_arrives_at_once():
    link: Link[str] = Link(loss=0.0, delay_s=0.0, seed=0)
    link.put(5.0, "now")
    assert link.next_arrival() == 5.0
    assert link.arrived(5.0) == ["now"]


def test_order_of_sending_is_kept():
    link: Link[int] = Link(loss=0.0, delay_s=DELAY_S, seed=0)
    for i in range(50):
        link.put(10.0 + (i // 10) * 0.5, i)   # five sending times, ten frames at each
    assert link.arrived(10.0 + DELAY_S) == list(range(10))
    assert link.arrived(11.0 + DELAY_S) == list(range(10, 30))
    assert link.arrived(math.inf) == list(range(30, 50))


def test_frames_sent_at_the_same_time_are_never_compared():
    link: Link[dict] = Link(loss=0.0, delay_s=DELAY_S, seed=0)
    frames = [{"seq": 2}, {"seq": 1}, {"seq": 3}]   # dicts do not order: the tie must break on sending order
    for frame in frames:
        link.put(1.0, frame)
    assert link.arrived(1.0 + DELAY_S) == frames


def test_next_arrival_is_the_earliest_pending_arrival_or_none():
    link: Link[str] = Link(loss=0.0, delay_s=DELAY_S, seed=0)
    assert link.next_arrival() is None
    link.put(20.0, "late")
    link.put(10.0, "early")   # put second, arrives first
    assert link.next_arrival() == 10.0 + DELAY_S
    assert link.arrived(10.0 + DELAY_S) == ["early"]
    assert link.next_arrival() == 20.0 + DELAY_S
    assert link.arrived(20.0 + DELAY_S) == ["late"]
    assert link.next_arrival() is None


def test_arrived_at_infinity_drains_everything():
    link: Link[int] = Link(loss=0.0, delay_s=1e6, seed=0)
    for i in range(100):
        link.put(float(i), i)
    assert link.arrived(1e6 - 1) == []
    assert link.arrived(math.inf) == list(range(100))
    assert link.next_arrival() is None and link.arrived(math.inf) == []


def test_with_no_loss_nothing_is_lost():
    link: Link[int] = Link(loss=0.0, delay_s=DELAY_S, seed=3)
    assert not any(losses(link, 10_000))


def test_with_loss_one_everything_is_lost():
    link: Link[int] = Link(loss=1.0, delay_s=DELAY_S, seed=3)
    assert all(losses(link, 1_000))


@pytest.mark.parametrize("p", [0.01, 0.1, 0.3, 0.5, 0.9])
def test_the_lost_fraction_is_near_the_loss_probability(p):
    n = 20_000
    sigma = math.sqrt(p * (1 - p) / n)
    for seed in range(5):
        fraction = sum(losses(Link(loss=p, delay_s=DELAY_S, seed=seed), n)) / n
        assert abs(fraction - p) < 5 * sigma, (p, seed, fraction)   # a binomial's 5 sigma: never by chance


def test_the_same_seed_loses_the_same_frames_and_another_seed_others():
    first = losses(Link(loss=0.3, delay_s=DELAY_S, seed=7), 1_000)
    again = losses(Link(loss=0.3, delay_s=DELAY_S, seed=7), 1_000)
    other = losses(Link(loss=0.3, delay_s=DELAY_S, seed=8), 1_000)   # the station's other direction
    assert first == again
    assert first != other
    # Not just shifted: the lost frames differ in many places, as independent draws would.
    assert sum(a != b for a, b in zip(first, other)) > 300
