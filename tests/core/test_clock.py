import time

from satedge.clock import SimClock


def test_processes_sharing_epoch_start_speedup_agree():
    start = time.time() - 10  # the run began 10 wall seconds ago
    a = SimClock(epoch=1000.0, start=start, speedup=60)
    b = SimClock(epoch=1000.0, start=start, speedup=60)
    assert abs(a.now() - (1000 + 600)) < 60 * 0.5
    assert abs(a.now() - b.now()) < 60 * 0.05


def test_sleep_until_advances_simulated_time():
    clock = SimClock(epoch=0.0, start=time.time(), speedup=100)
    clock.sleep_until(20.0)
    assert clock.now() >= 20.0


def test_start_file_is_written_once_and_shared(tmp_path):
    from satedge.clock import shared_start
    path = tmp_path / "run" / "start"
    assert shared_start(path, 100.0) == 100.0
    assert shared_start(path, 250.0) == 100.0


def test_a_clock_that_awaits_its_start_waits_for_the_file_and_beats_meanwhile(tmp_path):
    import threading

    from satedge.clock import awaited_start, shared_start
    path, beats = tmp_path / "start", []
    # written as the product writes it (complete, by link): `write_text` could be read half-written
    threading.Timer(0.3, lambda: shared_start(path, 1234.5)).start()
    assert awaited_start(path, lambda: beats.append(1), poll_s=0.05) == 1234.5
    assert beats, "the waiting callback keeps a daemon's heartbeat"


def test_the_run_is_over_only_when_marked_after_the_clock_was_made(tmp_path):
    import os

    end = tmp_path / "run-over"
    end.write_text("over")
    os.utime(end, (time.time() - 60, time.time() - 60))     # an earlier run's mark
    clock = SimClock(epoch=0.0, start=time.time(), end_file=end)
    assert not clock.run_over()
    end.write_text("over again")
    assert clock.run_over()
    assert not SimClock(epoch=0.0, start=time.time()).run_over()
