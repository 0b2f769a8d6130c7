"""The worker's RequestWait (`--spin-us`): polling for a request before the read blocks, and
backing off when requests come further apart than the budget. A fake clock and a scripted
`ready` drive it, so nothing here depends on timing."""

import importlib.util

import pytest

from worker_client import WORKER_PATH

_spec = importlib.util.spec_from_file_location("gym_server_worker_under_test", WORKER_PATH)
worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(worker)


class Script:
    """A clock that moves `step` seconds a reading, and a request that is there from `at` on."""

    def __init__(self, step=10e-6):
        self.now = 0.0
        self.step = step
        self.at = None
        self.polls = 0
        self.pauses = 0

    def clock(self):
        self.now += self.step
        return self.now

    def ready(self):
        self.polls += 1
        return self.at is not None and self.now >= self.at

    def pause(self):
        self.pauses += 1

    def wait(self, wait, after=None):
        """One wait for a request that comes `after` seconds from now (None: not in the budget)."""
        self.at = None if after is None else self.now + after
        wait.wait()


def make(budget=200e-6):
    script = Script()
    return script, worker.RequestWait(-1, budget, clock=script.clock, ready=script.ready, pause=script.pause)


def test_a_request_within_the_budget_is_caught_polling():
    script, wait = make()
    script.wait(wait, after=50e-6)
    assert (wait.caught, wait.missed, wait.skipped) == (1, 0, 0)
    assert script.pauses >= 1, "the CPU is yielded between two polls"
    assert script.now < 200e-6, "it returns as soon as the request is there"


def test_a_request_beyond_the_budget_is_a_miss_that_returns_at_the_budget():
    script, wait = make()
    script.wait(wait)
    assert (wait.caught, wait.missed) == (0, 1)
    assert 200e-6 <= script.now <= 230e-6


def test_two_misses_in_a_row_skip_one_then_two_then_four_waits_up_to_1024():
    script, wait = make()
    skipped = []
    for _ in range(14):
        before = wait.skipped
        polls = script.polls
        while script.polls == polls:  # waits until one polls (the others are skipped)
            script.wait(wait)
        skipped.append(wait.skipped - before)
    assert skipped == [0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1024]


def test_a_caught_request_resets_the_backoff():
    script, wait = make()
    script.wait(wait)
    script.wait(wait)  # two misses: the next wait is skipped
    polls = script.polls
    script.wait(wait, after=0)
    assert script.polls == polls and wait.skipped == 1
    script.wait(wait, after=20e-6)
    assert wait.caught == 1
    script.wait(wait)  # one miss after a caught request skips nothing
    polls = script.polls
    script.wait(wait, after=20e-6)
    assert script.polls > polls and wait.caught == 2 and wait.skipped == 1


@pytest.mark.parametrize("budget", [0, -1])
def test_no_budget_never_polls(budget):
    script, wait = make(budget)
    for _ in range(3):
        script.wait(wait)
    assert script.polls == 0 and (wait.caught, wait.missed, wait.skipped) == (0, 0, 0)


def test_the_real_poll_sees_a_pipe_with_bytes_in_it():
    import os
    read_end, write_end = os.pipe()
    try:
        wait = worker.RequestWait(read_end, 0.01)
        os.write(write_end, b"x")
        wait.wait()
        assert wait.caught == 1
        os.read(read_end, 1)
        wait.wait()  # an empty pipe: 10 ms of polling, then a miss
        assert wait.missed == 1
    finally:
        os.close(read_end)
        os.close(write_end)
