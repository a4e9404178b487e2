"""model/inputs/video.py and video_io.py: frame sampling, timestamps, the clip's pixel budget, patch
layout, reading files (PyAV) and folders, and the errors a user sees."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from model.errors import VideoReadError
from model.inputs.video import (
    Clip,
    VideoConfig,
    group_timestamps,
    patchify_frames,
    preprocess_video,
    resize_frames,
    sample_indices,
    timestamp_text,
    video_config_for,
    video_smart_resize,
)
from model.inputs.video_io import natural_key, read_video

# video_preprocessor_config.json of Qwen/Qwen3-VL-2B-Instruct, as shipped.
QWEN3_VL_2B_VIDEO_CONFIG = {
    "size": {"longest_edge": 25165824, "shortest_edge": 4096}, "patch_size": 16, "temporal_patch_size": 2,
    "merge_size": 2, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
    "processor_class": "Qwen3VLProcessor", "video_processor_type": "Qwen3VLVideoProcessor",
}
SMALL = VideoConfig(min_pixels=4096, max_pixels=16384)


def frames(count, height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, height, width, 3), dtype=np.uint8)


def test_config_reads_the_checkpoint_file_and_keeps_transformers_defaults_for_the_rest(tmp_path):
    (tmp_path / "video_preprocessor_config.json").write_text(json.dumps(QWEN3_VL_2B_VIDEO_CONFIG))
    config = VideoConfig.from_file(tmp_path)
    assert (config.min_pixels, config.max_pixels) == (4096, 25165824)
    assert (config.patch_size, config.merge_size, config.temporal_patch_size) == (16, 2, 2)
    assert (config.fps, config.min_frames, config.max_frames, config.cap_pixels_per_frame) == (2.0, 4, 768, False)
    empty = tmp_path / "no_video_config"
    empty.mkdir()
    assert VideoConfig.from_file(empty) == VideoConfig()


@pytest.mark.parametrize("data, field", [({"fps": 0}, "fps"), ({"size": {"shortest_edge": 10, "longest_edge": 5}},
                                                                  "min_pixels"),
                                          ({"max_frames": -1}, "max_frames"), ({"size": [1, 2]}, "size")])
def test_config_errors_name_the_field(data, field):
    with pytest.raises(ValueError, match=field):
        VideoConfig.from_dict(data, source="video_preprocessor_config.json")


@pytest.mark.parametrize("total, fps, expected", [
    (10, 5.0, [0, 3, 6, 9]),  # 2 s of video at 2 per second = 4 frames
    (9, 3.0, [0, 2, 3, 5, 6, 8]),  # linspace(0, 8, 6) rounds half to even
    (7, None, [0, 2, 4, 6]),  # unknown rate: 24 assumed, 0 frames wanted, min_frames 4
    (3, 30.0, [0, 1, 2]),  # never more than the clip has
    (2000, 2.0, None),  # capped at max_frames
])
def test_sampling_follows_the_target_rate_within_the_frame_bounds(total, fps, expected):
    indices = sample_indices(total, fps, VideoConfig())
    if expected is None:
        assert len(indices) == 768 and indices[0] == 0 and indices[-1] == total - 1
    else:
        assert indices.tolist() == expected


def test_timestamps_are_the_mean_time_of_each_frame_pair():
    assert group_timestamps([0, 3, 6, 9], 5.0) == pytest.approx([0.3, 1.5])
    assert group_timestamps([0, 2, 4], 2.0) == pytest.approx([0.5, 2.0])  # odd count: the last index repeats
    assert group_timestamps([0, 48], None) == pytest.approx([1.0])  # unknown rate: 24 frames per second
    assert [timestamp_text(t) for t in (0.25, 1.5, 12.0)] == ["<0.2 seconds>", "<1.5 seconds>", "<12.0 seconds>"]


def test_the_pixel_budget_covers_the_whole_clip():
    assert video_smart_resize(4, 64, 96, min_pixels=4096, max_pixels=16384) == (32, 64)  # 4*64*96 > budget
    assert video_smart_resize(2, 64, 96, min_pixels=4096, max_pixels=16384) == (64, 96)  # 2*64*96 fits
    assert video_smart_resize(4, 20, 30, min_pixels=4 * 64 * 96, max_pixels=10**7) == (64, 96)  # grown
    assert video_smart_resize(2, 10, 40, min_pixels=1, max_pixels=10**7) == (32, 128)  # thin: scaled to 32 first
    with pytest.raises(ValueError, match="at least 2 sampled frames"):
        video_smart_resize(1, 64, 64)
    with pytest.raises(ValueError, match="aspect ratio"):
        video_smart_resize(2, 32, 32 * 300)


def test_cap_pixels_per_frame_gives_each_frame_a_share():
    capped = VideoConfig(min_pixels=4096, max_pixels=10**8, cap_pixels_per_frame=True, max_video_tokens=8)
    video = preprocess_video(Clip(frames(4, 256, 256), fps=2.0), capped)
    _, h, w = video.grid_thw
    assert h * w <= 8 * 4  # at most max_video_tokens merged tokens' worth of patches per frame


def test_patch_rows_hold_two_consecutive_frames_in_merge_block_order():
    # Frame f, channel c, pixel (y, x) holds f*1000 + c*100000 + y*64 + x: every value says where it came from.
    count, height, width = 4, 64, 64
    f, c, y, x = np.meshgrid(np.arange(count), np.arange(3), np.arange(height), np.arange(width), indexing="ij")
    values = torch.from_numpy((f * 1000 + c * 100000 + y * 64 + x).astype(np.float64))
    rows = patchify_frames(values, patch_size=16, merge_size=2, temporal_patch_size=2)
    assert rows.shape == (2 * 4 * 4, 3 * 2 * 16 * 16)
    block = rows.reshape(2, 2, 2, 2, 2, 3, 2, 16, 16)  # group, block row, block col, row, col, C, t, y, x
    # group 1, block (0, 1), patch (1, 0) in the block, channel 2, time slot 1, pixel (3, 5):
    expected = 3 * 1000 + 2 * 100000 + (1 * 16 + 3) * 64 + (1 * 32 + 0 * 16 + 5)
    assert block[1, 0, 1, 1, 0, 2, 1, 3, 5].item() == expected


def test_resizing_a_few_frames_at_a_time_changes_nothing():
    data = frames(5, 50, 70, seed=8)
    assert torch.equal(resize_frames(data, 32, 64, chunk=2), resize_frames(data, 32, 64, chunk=5))
    assert resize_frames(data, 50, 70).shape == (5, 3, 50, 70)  # already the right size: only transposed


def test_an_odd_frame_count_repeats_the_last_frame():
    video = preprocess_video(Clip(frames(3, 64, 64), fps=2.0, sampled=True), SMALL)
    assert video.grid_thw == (2, 4, 4) and video.frame_indices == [0, 1, 2]
    last_group = video.group_rows(1).reshape(16, 3, 2, 256)
    assert torch.equal(last_group[:, :, 0], last_group[:, :, 1])
    assert video.timestamps == pytest.approx([0.25, 1.0])


def test_clip_errors_are_plain():
    with pytest.raises(ValueError, match="uint8 array"):
        Clip(np.zeros((2, 8, 8, 3), dtype=np.float32)).check()
    with pytest.raises(ValueError, match="one size"):
        from PIL import Image

        Clip.from_images([Image.new("RGB", (8, 8)), Image.new("RGB", (9, 8))])


def test_video_config_for_a_checkpoint_without_a_video_file_uses_its_image_settings():
    from model.inputs.image import ProcessorConfig

    class Loaded:
        folder = None
        processor_config = ProcessorConfig(patch_size=14, merge_size=2, image_mean=(0.1, 0.2, 0.3))

    config = video_config_for(Loaded())
    assert (config.patch_size, config.image_mean, config.max_pixels) == (14, (0.1, 0.2, 0.3), 768 * 32 * 32)


# ------------------------------------------------------------------------------------------- reading


def test_a_folder_of_frames_is_read_in_natural_order_at_the_sampling_rate(tmp_path):
    from PIL import Image

    data = frames(12, 40, 48, seed=3)
    for index in range(12):
        Image.fromarray(data[index]).save(tmp_path / f"frame{index}.png")
    (tmp_path / "notes.txt").write_text("not a frame")
    clip = read_video(tmp_path)
    assert np.array_equal(clip.frames, data) and clip.fps == 2.0  # frame10 after frame9
    assert sample_indices(12, clip.fps, VideoConfig()).tolist() == list(range(12))  # every frame kept
    assert sorted(["f10", "f9", "f1"], key=natural_key) == ["f1", "f9", "f10"]


def test_reading_errors_name_the_path(tmp_path):
    with pytest.raises(VideoReadError, match="does not exist"):
        read_video(tmp_path / "missing.mp4")
    with pytest.raises(VideoReadError, match="no frame images"):
        read_video(tmp_path)
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all")
    with pytest.raises(VideoReadError, match="broken.mp4"):
        read_video(tmp_path / "broken.mp4")
    with pytest.raises(VideoReadError, match="positive"):
        read_video(tmp_path, fps=0)


def write_mp4(path: Path, data: np.ndarray, fps: int) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = data.shape[2], data.shape[1], "yuv420p"
        for frame in data:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def test_a_file_is_decoded_and_sampled_like_transformers_pyav_reader(tmp_path):
    from transformers.video_utils import read_video_pyav

    path = tmp_path / "clip.mp4"
    write_mp4(path, frames(25, 48, 64, seed=5), fps=10)  # 2.5 s at 10 fps -> 5 sampled frames
    clip = read_video(path)
    expected, metadata = read_video_pyav(str(path), lambda metadata, **_: sample_indices(
        metadata.total_num_frames, metadata.fps, VideoConfig()))
    assert clip.sampled and clip.fps == metadata.fps == 10.0
    assert clip.indices == metadata.frames_indices.tolist() == [0, 6, 12, 18, 24]
    assert np.array_equal(clip.frames, expected)
    video = preprocess_video(clip, SMALL)
    assert video.frame_indices == [0, 6, 12, 18, 24]
    assert video.timestamps == pytest.approx([0.3, 1.5, 2.4])
