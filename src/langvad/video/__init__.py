"""Video input: probe videos or frame folders, choose frames by stride or time, decode them."""

from langvad.video.decode import (
    IMAGE_EXTENSIONS,
    VideoError,
    VideoInfo,
    list_frame_files,
    nearest_frame,
    probe,
    read_frames,
    sample_indices,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "VideoError",
    "VideoInfo",
    "list_frame_files",
    "nearest_frame",
    "probe",
    "read_frames",
    "sample_indices",
]
