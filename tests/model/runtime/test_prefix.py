"""Prefix matching over token ids and image content, and the per-token MRoPE cursor ledger."""
import torch

from model.runtime.prefix import CacheLedger, ImageSpan, reusable_prefix, token_keys

PAD = 7


def test_same_ids_different_image_content_do_not_match():
    ids = [1, 2, 3, PAD, PAD, PAD, PAD, 4, 5]
    cached = token_keys(ids, [ImageSpan(3, 4, "aa" * 32)])
    spans = [ImageSpan(3, 4, "bb" * 32)]
    new = token_keys(ids + [6], spans)
    assert reusable_prefix(cached, new, spans) == 3  # up to the first pad of the changed image


def test_same_image_matches_through_and_past_it():
    spans = [ImageSpan(3, 4, "aa" * 32)]
    ids = [1, 2, 3, PAD, PAD, PAD, PAD, 4, 5]
    cached = token_keys(ids, spans)
    new = token_keys(ids + [9, 9], spans)
    assert reusable_prefix(cached, new, spans) == len(ids)


def test_cut_inside_an_image_moves_to_its_start():
    spans = [ImageSpan(2, 4, "aa" * 32)]
    new = token_keys([1, 2, PAD, PAD, PAD, PAD, 3], spans)
    cached = new[:4]  # a cache that stops halfway through the image
    assert reusable_prefix(cached, new, spans) == 2


def test_at_least_one_token_is_left_to_compute():
    keys = [1, 2, 3]
    assert reusable_prefix(keys, keys, []) == 2


def test_ledger_cursor_after_text_and_image():
    ledger = CacheLedger()
    # 2 text tokens at 0, 1; an image at cursor 2 with merged grid 2x3 -> cursor 2 + 3 = 5; text at 5.
    t = torch.tensor([0, 1, 2, 2, 2, 2, 2, 2, 5])
    h = torch.tensor([0, 1, 2, 2, 2, 3, 3, 3, 5])
    w = torch.tensor([0, 1, 2, 3, 4, 2, 3, 4, 5])
    ledger.extend(list(range(9)), torch.stack([t, h, w]))
    assert [ledger.cursor_at(n) for n in (0, 1, 2, 8, 9)] == [0, 1, 2, 5, 6]
    ledger.truncate(8)
    ledger.extend_text([11, 12], start_cursor=ledger.cursor_at(8))
    assert len(ledger) == 10 and ledger.cursor_at(10) == 7


def test_prefill_chunks_never_cut_through_an_image():
    from model.runtime.session import chunk_bounds

    spans = [ImageSpan(10, 30, "aa" * 32), ImageSpan(45, 5, "bb" * 32)]
    bounds = chunk_bounds(0, 60, spans, chunk=16)
    assert bounds[0][0] == 0 and bounds[-1][1] == 60
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    for lo, hi in bounds:
        assert not any(span.start < cut < span.end for span in spans for cut in (lo, hi))
    assert (10, 40) in bounds  # an image longer than the chunk goes whole
