"""``runtime._parallel.hold_blas`` / ``release_blas``: BLAS on one thread from the first hold
to the last release (overlapping runs, in any order), the count it found restored after, and
no lock or change when BLAS already runs on one thread and no run holds a change."""

from threadpoolctl import threadpool_info, threadpool_limits

from runtime import _parallel


def _blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_overlapping_holds_keep_one_thread_until_the_last_release():
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        assert set(before) == {2}
        first = _parallel.hold_blas()
        assert first and set(_blas_threads()) == {1}
        # A second run starting now reads one thread, but a change is held: it is counted.
        second = _parallel.hold_blas()
        assert second
        _parallel.release_blas()  # the first run ends before the second
        assert set(_blas_threads()) == {1}
        _parallel.release_blas()
        assert _blas_threads() == before
        assert _parallel._active == 0 and _parallel._blas_limit is None


def test_hold_mixes_with_the_threads_context_manager():
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        with _parallel.threads(2):
            assert set(_blas_threads()) == {1}
            assert _parallel.hold_blas()
            assert set(_blas_threads()) == {1}
        assert set(_blas_threads()) == {1}  # the hold still runs
        _parallel.release_blas()
        assert _blas_threads() == before


def test_a_hold_on_single_threaded_blas_changes_nothing():
    with threadpool_limits(limits=1, user_api="blas"):
        generation = _parallel._generation
        assert not _parallel.hold_blas()
        assert _parallel._active == 0 and _parallel._blas_limit is None
        assert _parallel._generation == generation and set(_blas_threads()) == {1}


def test_a_hold_after_a_restore_finds_the_restored_count():
    with threadpool_limits(limits=3, user_api="blas"):
        assert _parallel.hold_blas()
        _parallel.release_blas()
        assert set(_blas_threads()) == {3}
        assert _parallel.hold_blas() and set(_blas_threads()) == {1}
        _parallel.release_blas()
        assert set(_blas_threads()) == {3}
