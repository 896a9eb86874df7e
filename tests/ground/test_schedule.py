"""Contact schedules: periodic arithmetic, and TLE passes against skyfield's published ISS example."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ground.config import GroundConfig
from ground.schedule import PeriodicSchedule, TleSchedule, build
from satedge.config import load
from satedge.errors import UserError

# skyfield's documented example (earth-satellites page): ISS TLE of 2014-01-20, Bluffton, Ohio, 30 degrees.
ISS = ["1 25544U 98067A   14020.93268519  .00009878  00000-0  18200-3 0  5082",
       "2 25544  51.6498 109.4756 0003572  55.9686 274.8005 15.49815350868473"]
BLUFFTON = dict(lat=40.8939, lon=-83.8917, alt_m=0.0)
DAY0 = datetime(2014, 1, 23, tzinfo=UTC).timestamp()
# The published table: rise above 30 and set below 30 on 2014 Jan 23, UT, to the second.
PUBLISHED = [("06:25:37", "06:28:19"), ("12:54:56", "12:57:58")]


def utc_second(t: float) -> str:
    return datetime.fromtimestamp(round(t), tz=UTC).strftime("%H:%M:%S")


def iss_schedule(**kwargs) -> TleSchedule:
    return TleSchedule(ISS, BLUFFTON["lat"], BLUFFTON["lon"], BLUFFTON["alt_m"], 30.0, DAY0, **kwargs)


def day_of_passes(schedule) -> list:
    windows, t = [], DAY0
    while (w := schedule.next_window(t)) is not None and w.start < DAY0 + 86400:
        windows.append(w)
        t = w.end
    return windows


def test_tle_schedule_matches_skyfields_published_iss_passes():
    windows = day_of_passes(iss_schedule())
    assert [(utc_second(w.start), utc_second(w.end)) for w in windows] == PUBLISHED
    assert [w.id for w in windows] == [1, 2]


@pytest.mark.parametrize("chunk_s", [1800.0, 3 * 3600.0, 6 * 3600 + 25 * 60 + 40])
def test_tle_passes_at_chunk_edges_are_neither_lost_nor_doubled(chunk_s):
    # 6:25:40 puts a chunk edge inside the first pass (it rises at 6:25:37).
    reference = day_of_passes(iss_schedule())
    chunked = day_of_passes(iss_schedule(chunk_s=chunk_s, pad_s=3600.0))
    assert len(chunked) == len(reference)
    for a, b in zip(chunked, reference):
        assert abs(a.start - b.start) < 0.5 and abs(a.end - b.end) < 0.5


def test_window_at_inside_and_between_passes():
    schedule = iss_schedule()
    first = schedule.next_window(DAY0)
    assert schedule.window_at(first.start + 10) == first
    assert schedule.window_at(first.end + 10) is None
    assert schedule.next_window(first.start + 10) == first  # a pass under way is the "next" one


def test_a_satellite_that_never_rises_has_no_windows():
    # From the pole an equatorial-ish low orbit never clears 80 degrees.
    schedule = TleSchedule(ISS, 89.9, 0.0, 0.0, 80.0, DAY0, horizon_s=2 * 86400.0)
    assert schedule.next_window(DAY0) is None


def test_periodic_windows():
    s = PeriodicSchedule(origin=1000.0, period_s=100.0, window_s=30.0)
    assert s.window_at(999.0) is None
    assert s.next_window(0.0).start == 1000.0
    w = s.window_at(1010.0)
    assert (w.id, w.start, w.end) == (1, 1000.0, 1030.0)
    assert s.window_at(1030.0) is None  # LOS is exclusive
    assert s.next_window(1030.0).id == 2
    assert s.window_at(1210.0).id == 3 and s.window_at(1250.0) is None


def test_config_builds_either_schedule_from_the_epoch():
    cfg = load(GroundConfig, overrides={"link": {"offset_s": 50.0}})
    assert build(cfg.link, cfg.station, 100.0).next_window(0.0).start == 150.0
    cfg = load(GroundConfig, overrides={"link": {"schedule": "tle", "tle": ISS, "min_elevation_deg": 30.0},
                                        "station": BLUFFTON})
    assert utc_second(build(cfg.link, cfg.station, DAY0).next_window(DAY0).start) == "06:25:37"


@pytest.mark.parametrize("link, message", [
    ({"schedule": "tle"}, "needs link.tle"),
    ({"schedule": "tle", "tle": ISS[:1]}, "must be two lines"),
    ({"window_s": 600.0, "period_s": 500.0}, "longer than period_s"),
    ({"loss": 1.0}, "link.loss"),
    ({"bogus": 1}, "unknown key 'link.bogus'"),
])
def test_bad_link_configuration_is_one_clear_error(link, message):
    with pytest.raises(UserError, match=message):
        load(GroundConfig, overrides={"link": link})


@pytest.mark.parametrize("tle, message", [
    (["1 garbage", "2 garbage"], "must be 69 characters"),
    ([ISS[1], ISS[0]], "starting with '1 '"),
    ([ISS[0][:68] + "7", ISS[1]], "line 1 checksum"),
])
def test_a_garbled_tle_is_a_user_error(tle, message):
    with pytest.raises(UserError, match=message):
        TleSchedule(tle, 0.0, 0.0, 0.0, 10.0, DAY0)
