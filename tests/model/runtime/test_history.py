"""History policy: which screenshots leave the conversation, and when."""
import pytest

from model.runtime.history import HistoryPolicy, drop_oldest


def simulate(policy: HistoryPolicy, steps: int) -> list[tuple[int, int]]:
    """(present after the step, dropped at the step) for a conversation gaining one screenshot per step."""
    present, trace = 0, []
    for _ in range(steps):
        present += 1
        dropped = policy.images_to_drop(present)
        present -= dropped
        trace.append((present, dropped))
    return trace


def test_keeps_newest_and_drops_in_chunks():
    trace = simulate(HistoryPolicy(keep_images=3, drop_chunk=2), 9)
    assert [p for p, _ in trace] == [1, 2, 3, 4, 3, 4, 3, 4, 3]
    assert [d for _, d in trace] == [0, 0, 0, 0, 2, 0, 2, 0, 2]


def test_chunk_one_keeps_exactly_n():
    trace = simulate(HistoryPolicy(keep_images=2, drop_chunk=1), 5)
    assert [p for p, _ in trace] == [1, 2, 2, 2, 2]


def test_prefix_changes_only_every_chunk_steps():
    trace = simulate(HistoryPolicy(keep_images=4, drop_chunk=3), 30)
    drop_steps = [i for i, (_, d) in enumerate(trace) if d]
    assert all(b - a == 3 for a, b in zip(drop_steps, drop_steps[1:]))
    assert max(p for p, _ in trace) == 6


def test_unbounded_policy_never_drops():
    assert HistoryPolicy(keep_images=None).images_to_drop(1000) == 0


@pytest.mark.parametrize("kwargs", [{"keep_images": 0}, {"drop_chunk": 0}])
def test_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        HistoryPolicy(**kwargs)


def test_drop_oldest_skips_already_dropped():
    assert drop_oldest([False, True, True, False, True], 2) == [1, 2]
    with pytest.raises(ValueError, match="only 1"):
        drop_oldest([False, True], 2)
