"""The generated audio clips, the video and the point clouds of ledger/media.py: valid files,
the same on every machine, and truths that agree with what the files hold (the loud samples lie
in the truth segments, each shape inside its box on every frame, each object's points inside its
cuboid), each truth a label its kind reads."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

from ledger.kinds import kind_named
from ledger.media import (
    AUDIO_CLASSES,
    AUDIO_COUNT,
    AUDIO_RATE,
    AUDIO_SECONDS,
    CLOUD_CLASSES,
    CLOUD_COUNT,
    SILENCE_LEVEL,
    SPEECH,
    VIDEO_CLASSES,
    VIDEO_FILE,
    VIDEO_FPS,
    VIDEO_FRAMES,
    VIDEO_HEIGHT,
    VIDEO_MANIFEST,
    VIDEO_PATH,
    VIDEO_WIDTH,
    UnknownMedia,
    audio_clip,
    audio_path,
    cloud_path,
    media_file,
    point_cloud,
    speech_path,
    video_frame,
    video_frames_digest,
    video_tracks,
)


def read_wav(wav: bytes) -> tuple[int, list[int]]:
    """A reader written from the RIFF WAVE layout, for 16-bit mono PCM: the rate and samples."""
    riff, size, wave = struct.unpack("<4sI4s", wav[:12])
    assert (riff, wave, size) == (b"RIFF", b"WAVE", len(wav) - 8)
    at, chunks = 12, {}
    while at < len(wav):
        kind, length = struct.unpack("<4sI", wav[at : at + 8])
        chunks[kind] = wav[at + 8 : at + 8 + length]
        at += 8 + length
    fmt, channels, rate, byte_rate, align, bits = struct.unpack("<HHIIHH", chunks[b"fmt "])
    assert (fmt, channels, bits, align, byte_rate) == (1, 1, 16, 2, 2 * rate)
    data = chunks[b"data"]
    return rate, list(struct.unpack(f"<{len(data) // 2}h", data))


@pytest.mark.parametrize("number", range(AUDIO_COUNT))
def test_an_audio_clip_is_loud_exactly_inside_its_truth_segments(number: int) -> None:
    clip = audio_clip(number)
    rate, samples = read_wav(media_file(audio_path(number)).content)
    assert rate == AUDIO_RATE
    assert len(samples) == round(AUDIO_SECONDS * AUDIO_RATE)
    assert 2 <= len(clip.segments) <= 5
    assert {s.kind for s in clip.segments} == set(AUDIO_CLASSES)  # both kinds in every clip
    previous_end = 0.0
    for segment in clip.segments:
        assert previous_end < segment.start < segment.end <= AUDIO_SECONDS
        assert segment.start == round(segment.start, 2)
        assert segment.end == round(segment.end, 2)
        previous_end = segment.end

    def inside(k: int) -> bool:
        return any(s.start * rate <= k < s.end * rate for s in clip.segments)

    loud = SILENCE_LEVEL * 32767
    outside = [abs(v) for k, v in enumerate(samples) if not inside(k)]
    assert max(outside) < loud, "the time between segments is near-silence"
    for segment in clip.segments:
        # every tenth of a second inside a segment has sound in it (no silent gap to mistake)
        first, last = round(segment.start * rate), round(segment.end * rate)
        tenth = rate // 10
        for at in range(first, last - tenth + 1, tenth):
            assert max(abs(v) for v in samples[at : at + tenth]) > 4 * loud, (segment, at / rate)
    assert max(abs(v) for v in samples) < 32767  # nothing clipped
    kind_named("segments").parse(
        json.dumps(clip.label()), classes=list(AUDIO_CLASSES), where="the truth"
    )


def test_speech_and_music_sound_different() -> None:
    """Music is chords: nearly all its energy lies at the chords' notes; speech is a buzz in
    noise, its energy spread over the spectrum."""
    notes = np.array([174.61, 196.0, 220.0, 246.94, 261.63, 277.18, 293.66, 329.63])

    def at_the_notes(kind: str) -> list[float]:
        shares = []
        for number in range(AUDIO_COUNT):
            clip = audio_clip(number)
            for s in clip.segments:
                if s.kind != kind:
                    continue
                part = np.array(
                    clip.samples[round(s.start * AUDIO_RATE) : round(s.end * AUDIO_RATE)]
                )
                power = np.abs(np.fft.rfft(part * np.hanning(len(part)))) ** 2
                hertz = np.fft.rfftfreq(len(part), 1 / AUDIO_RATE)
                near = (np.abs(hertz[:, None] - notes[None, :]) < 4).any(axis=1)
                shares.append(float(power[near].sum() / power.sum()))
        return shares

    assert min(at_the_notes("music")) > 0.8
    assert max(at_the_notes("speech")) < 0.3


def test_clips_differ_and_are_the_same_in_another_process() -> None:
    assert len({audio_clip(n).segments for n in range(AUDIO_COUNT)}) == AUDIO_COUNT
    there = subprocess.run(
        [
            sys.executable,
            "-c",
            "import hashlib\nfrom ledger.media import media_file\n"
            "print(hashlib.sha256(media_file('audio/3.wav').content"
            " + media_file('clouds/1.bin').content).hexdigest())",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "4321", "PATH": "/usr/bin:/bin"},
    )
    here = hashlib.sha256(media_file("audio/3.wav").content + media_file("clouds/1.bin").content)
    assert there.stdout.strip() == here.hexdigest()


@pytest.mark.parametrize("frame", [0, 1, 17, VIDEO_FRAMES - 1])
def test_each_shape_lies_inside_its_truth_box_on_every_frame(frame: int) -> None:
    pixels, boxes = video_frame(frame)
    assert len(pixels) == 3 * VIDEO_WIDTH * VIDEO_HEIGHT
    colours = {"ball": (220, 48, 40), "block": (40, 84, 200)}
    for kind, colour in colours.items():
        where = [
            (k % VIDEO_WIDTH, k // VIDEO_WIDTH)
            for k in range(VIDEO_WIDTH * VIDEO_HEIGHT)
            if tuple(pixels[3 * k : 3 * k + 3]) == colour
        ]
        x_min, y_min, x_max, y_max = boxes[kind]
        assert 0 <= x_min < x_max <= VIDEO_WIDTH
        assert 0 <= y_min < y_max <= VIDEO_HEIGHT
        assert where, kind
        assert all(x_min <= x < x_max and y_min <= y < y_max for x, y in where)
        # and the box is tight: the shape's own colour reaches within 4 pixels of each side
        xs, ys = [x for x, _ in where], [y for _, y in where]
        assert min(xs) - x_min <= 4
        assert x_max - 1 - max(xs) <= 4
        assert min(ys) - y_min <= 4
        assert y_max - 1 - max(ys) <= 4


def test_the_shapes_move_and_the_truth_is_a_tracks_label() -> None:
    tracks = video_tracks()
    assert [t["class"] for t in tracks] == list(VIDEO_CLASSES)
    for track in tracks:
        frames = track["frames"]
        assert isinstance(frames, dict)
        assert list(frames) == [str(f) for f in range(VIDEO_FRAMES)]
        assert len({tuple(box) for box in frames.values()}) > VIDEO_FRAMES // 2  # it moves
    kind_named("tracks").parse(json.dumps(tracks), classes=list(VIDEO_CLASSES), where="the truth")


def test_the_shipped_video_was_made_from_these_frames() -> None:
    """scripts/make-media-video wrote the manifest as it encoded the video: a drawing changed
    since, and not encoded again, fails here (run the script)."""
    manifest = json.loads(VIDEO_MANIFEST.read_text())
    assert manifest["frames_sha256"] == video_frames_digest(), "run scripts/make-media-video"
    assert manifest["tracks"] == video_tracks()
    assert (manifest["fps"], manifest["frames"]) == (VIDEO_FPS, VIDEO_FRAMES)
    assert (manifest["width"], manifest["height"]) == (VIDEO_WIDTH, VIDEO_HEIGHT)
    video = media_file(VIDEO_PATH)
    assert video.content_type == "video/webm"
    assert video.content == VIDEO_FILE.read_bytes()
    assert video.content[:4] == b"\x1a\x45\xdf\xa3"  # EBML
    assert b"webm" in video.content[:64]
    assert b"V_VP8" in video.content[:400]
    assert len(video.content) < 64_000


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="decoding the video needs ffmpeg")
def test_the_decoded_video_shows_each_shape_inside_its_truth_box() -> None:
    decoded = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(VIDEO_FILE),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    size = 3 * VIDEO_WIDTH * VIDEO_HEIGHT
    assert len(decoded) == VIDEO_FRAMES * size
    for frame in range(VIDEO_FRAMES):
        pixels = decoded[frame * size : (frame + 1) * size]
        _, boxes = video_frame(frame)
        x_min, y_min, x_max, y_max = boxes["ball"]
        reds = [
            (k % VIDEO_WIDTH, k // VIDEO_WIDTH)
            for k in range(VIDEO_WIDTH * VIDEO_HEIGHT)
            if pixels[3 * k] > 170 and pixels[3 * k + 1] < 110 and pixels[3 * k + 2] < 110
        ]
        assert len(reds) > 300, frame
        assert all(x_min - 2 <= x < x_max + 2 and y_min - 2 <= y < y_max + 2 for x, y in reds)


def read_cloud(content: bytes) -> list[tuple[float, float, float]]:
    assert len(content) % 12 == 0
    return [struct.unpack("<3f", content[k : k + 12]) for k in range(0, len(content), 12)]


@pytest.mark.parametrize("number", range(CLOUD_COUNT))
def test_a_cloud_is_a_ground_plane_and_objects_inside_their_truth_cuboids(number: int) -> None:
    cloud = point_cloud(number)
    points = read_cloud(media_file(cloud_path(number)).content)
    assert points == list(cloud.points)
    assert 2000 <= len(points) <= 5000
    kinds = [c.kind for c in cloud.cuboids]
    assert kinds == (["car", "pedestrian"] if number % 2 else ["car"])
    ground = [p for p in points if p[2] < 0]
    assert len(ground) > 1500
    assert all(p[2] > -0.05 for p in ground)
    for cuboid in cloud.cuboids:
        inside = [p for p in points if cuboid.contains(*p)]
        assert len(inside) >= 200, cuboid
        assert all(p[2] > 0 for p in inside), "no ground point inside a cuboid"
        # the points fill the box: they reach near each of its sides and its top
        assert max(p[2] for p in inside) > cuboid.center[2] + cuboid.size[2] / 2 - 0.05
        assert cuboid.center[2] == pytest.approx(cuboid.size[2] / 2, abs=1e-3)  # on the ground
    above = [p for p in points if p[2] > 0]
    assert all(any(c.contains(*p) for c in cloud.cuboids) for p in above)
    kind_named("cuboids").parse(
        json.dumps(cloud.label()), classes=list(CLOUD_CLASSES), where="the truth"
    )


def test_unknown_clips_and_clouds_are_refused() -> None:
    for path in (
        f"audio/{AUDIO_COUNT}.wav",
        "audio/01.wav",
        "audio/1.mp3",
        f"clouds/{CLOUD_COUNT}.bin",
        "clouds/-1.bin",
        "video/other.webm",
        "video/../shapes.webm",
        "media_assets/shapes.webm",
    ):
        with pytest.raises(UnknownMedia):
            media_file(path)
    with pytest.raises(UnknownMedia):
        audio_clip(AUDIO_COUNT)
    with pytest.raises(UnknownMedia):
        point_cloud(-1)
    with pytest.raises(UnknownMedia):
        video_frame(VIDEO_FRAMES)


def test_each_spoken_sentence_is_served_as_an_opus_clip() -> None:
    """The transcripts' clips ship in the repository (scripts/make-media-speech made them): each
    is an Ogg stream of Opus audio, served as audio/ogg, and nothing beyond them is served."""
    for number in range(len(SPEECH)):
        found = media_file(speech_path(number))
        assert found.content_type == "audio/ogg"
        assert found.content.startswith(b"OggS")
        assert b"OpusHead" in found.content[:200]
        assert 2_000 < len(found.content) < 20_000
    with pytest.raises(UnknownMedia):
        media_file(f"speech/{len(SPEECH)}.ogg")
