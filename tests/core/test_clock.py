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
