"""One small dataset of every label kind, each item real media the repository generates
(`ledger.media`: pictures, texts, audio, a video, a point cloud) or a prompt with model answers,
so that a person who runs the demo finds work of every kind open in the web app, each in its own
widget. `label-ledger demo` creates and funds them after its loop; nothing here talks to a
network beyond the instance it is given.

`SHOWCASE` has an entry for every kind in the registry (a unit test holds it to that)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ledger.media import (
    AUDIO_CLASSES,
    CLOUD_CLASSES,
    PET_CLASSES,
    TEXTS,
    VIDEO_CLASSES,
    VIDEO_FPS,
    VIDEO_FRAMES,
    VIDEO_PATH,
    audio_path,
    cloud_path,
    pet_path,
    speech_path,
)

ITEMS_PER_KIND = 3

PROMPTS: tuple[tuple[str, dict[str, str]], ...] = (
    (
        "Explain in one sentence why the sky is blue.",
        {
            "A": "Air molecules scatter short blue wavelengths of sunlight far more than red "
            "ones, so blue light reaches us from every direction of the sky.",
            "B": "The sky reflects the colour of the oceans, which cover most of the Earth.",
            "C": "Sunlight is blue before it enters the atmosphere, which removes the other "
            "colours.",
        },
    ),
    (
        "Write a haiku about a ledger.",
        {
            "A": "Columns, line by line / every coin has a witness / nothing owed is lost",
            "B": "A ledger is a book in which accounts are recorded.",
            "C": "Ink on paper sleeps / numbers keep their promises / the night clerk goes home",
        },
    ),
    (
        "Is 221 a prime number? Answer and say why.",
        {
            "A": "No: 221 = 13 x 17.",
            "B": "Yes, because it is odd and does not end in 5.",
            "C": "No, it is divisible by 13 (13 x 17 = 221).",
        },
    ),
)


def _picture(n: int) -> dict[str, Any]:
    return {"image": f"/media/{pet_path(n)}"}


def _text(n: int) -> dict[str, Any]:
    return {"text": TEXTS[n % len(TEXTS)].text}


def _prompt(n: int, answers: int) -> dict[str, Any]:
    prompt, given = PROMPTS[n % len(PROMPTS)]
    names = sorted(given)[:answers]
    return {"prompt": prompt, "answers": {name: given[name] for name in names}}


@dataclass(frozen=True)
class Showcase:
    """A dataset of one kind: its name, classes and instructions, and the data of item n."""

    name: str
    instructions: str
    data: Callable[[int], dict[str, Any]]
    classes: list[str] = field(default_factory=list)
    verification: dict[str, Any] = field(default_factory=dict)


PETS = list(PET_CLASSES)

SHOWCASE: dict[str, Showcase] = {
    "classes": Showcase("Which pet? (classes)", "Pick the animal in the picture.", _picture, PETS),
    "boxes": Showcase("Box the pet (boxes)", "Draw one box around the animal.", _picture),
    "spans": Showcase("Find the place (spans)", "Select the place the sentence names.", _text),
    "objects": Showcase(
        "Every animal, boxed (objects)",
        "Draw a box around each animal, with its class.",
        _picture,
        PETS,
    ),
    "polygons": Showcase(
        "Outline the pet (polygons)",
        "Outline each animal with a polygon, with its class.",
        _picture,
        PETS,
    ),
    "keypoints": Showcase(
        "Head and tail (keypoints)",
        "Place the animal's head and tail; mark one not visible when you cannot see it.",
        _picture,
        ["head", "tail"],
    ),
    "masks": Showcase("Paint the pet (masks)", "Paint every pixel of the animal.", _picture),
    "multilabel": Showcase(
        "What is in the picture? (multilabel)",
        "Tick every kind of animal you see.",
        _picture,
        PETS,
    ),
    "entities": Showcase(
        "Places and people (entities)",
        "Mark every place (LOC) and person (PER) named.",
        _text,
        ["PER", "LOC"],
    ),
    "texts": Showcase(
        "Name the place (texts)", "Type the name of the place the sentence mentions.", _text
    ),
    "transcripts": Showcase(
        "Transcribe the clip (transcripts)",
        "Type every word you hear, in order, in lower case; no punctuation is needed.",
        lambda n: {"audio": f"/media/{speech_path(n)}"},
    ),
    "segments": Showcase(
        "Mark the sounds (segments)",
        "Mark every stretch of speech-like noise and of music, start to end.",
        lambda n: {"audio": f"/media/{audio_path(n)}"},
        list(AUDIO_CLASSES),
    ),
    "tracks": Showcase(
        "Follow the shapes (tracks)",
        "Follow the ball and the block with a box on every frame they are in.",
        lambda _n: {"video": f"/media/{VIDEO_PATH}", "fps": VIDEO_FPS, "frame_count": VIDEO_FRAMES},
        list(VIDEO_CLASSES),
    ),
    "cuboids": Showcase(
        "Box the objects in 3D (cuboids)",
        "Place a cuboid around each object standing on the ground.",
        lambda n: {"cloud": f"/media/{cloud_path(n)}"},
        list(CLOUD_CLASSES),
    ),
    "preference": Showcase(
        "Which answer is better? (preference)",
        "Pick the answer that is more correct and more helpful, or tie.",
        lambda n: _prompt(n, 2),
    ),
    "ranking": Showcase(
        "Rank the answers (ranking)",
        "Rank the three answers, best first.",
        lambda n: _prompt(n, 3),
        ["A", "B", "C"],
    ),
    "ratings": Showcase(
        "Rate the answer (ratings)",
        "Rate answer A from 1 to 5 on each criterion.",
        lambda n: _prompt(n, 1),
        ["correctness", "helpfulness", "clarity"],
    ),
    "written": Showcase(
        "Write the ideal answer (written)",
        "Write the answer you would want to read.",
        lambda n: {"prompt": PROMPTS[n % len(PROMPTS)][0]},
        verification={"method": "review"},
    ),
}


def dataset_body(kind: str, *, payment_token: str, price: int, reward: int) -> dict[str, Any]:
    """The `POST /v1/datasets` body of the kind's showcase dataset."""
    show = SHOWCASE[kind]
    body: dict[str, Any] = {
        "name": show.name,
        "label_type": kind,
        "payment_token": payment_token,
        "price_per_label": price,
        "reward_per_label": reward,
        "instructions": f"# {show.name}\n\n{show.instructions}\n",
        "verification": show.verification,
    }
    if show.classes:
        body["label_classes"] = show.classes
    return body


def items(kind: str, count: int = ITEMS_PER_KIND) -> list[dict[str, Any]]:
    """The kind's showcase items, `{"id", "data"}`."""
    return [{"id": f"{kind}-{n}", "data": SHOWCASE[kind].data(n)} for n in range(count)]
