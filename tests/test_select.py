"""Face selection on the bundled group photos: by index (left to right), largest, and by reference."""

import itertools
from functools import cache

import numpy as np
import pytest

from infoswap.errors import InfoswapError
from infoswap.faces.select import (
    DEFAULT_THRESHOLD, embed_faces, embed_reference, identity_distance, select_faces,
)
from tests.detected_faces import FACES, finder, photo

# assets/faces/manifest.csv: the composite tiles these people's smiling photos, left to right, at tile
# heights 420, 380 and 440 px; their neutral photos are other pictures of the same people.
COMPOSITE = "groups/composite_london_3.jpg"
PEOPLE = ("london_061", "london_136", "london_092")


@cache
def recognizer():
    from infoswap.recognition.registry import load_recognizer

    return load_recognizer("dlib")


@cache
def composite() -> tuple[list, np.ndarray]:
    pixels, faces = photo(COMPOSITE)
    return list(faces), embed_faces(pixels, list(faces), recognizer())


def neutral_reference(person: str) -> np.ndarray:
    pixels, faces = photo(f"identities/{person}/neutral.jpg")
    return embed_reference(pixels, list(faces), recognizer())


def test_faces_are_indexed_left_to_right():
    faces, _ = composite()
    assert [face.index for face in faces] == [0, 1, 2]
    centres = [(face.box[0] + face.box[2]) / 2 for face in faces]
    assert centres == sorted(centres)
    assert select_faces(faces) == faces


@pytest.mark.parametrize("index", range(3))
def test_select_by_index_picks_the_face_at_that_place(index):
    faces, embeddings = composite()
    [chosen] = select_faces(faces, "index", index=index)
    assert chosen.index == index
    # ... and it is that person: nearest of the three people's other photos
    distances = [identity_distance(embeddings[index:index + 1], neutral_reference(p))[0] for p in PEOPLE]
    assert int(np.argmin(distances)) == index


def test_largest_is_the_person_shown_biggest():
    faces, _ = composite()
    assert [face.index for face in select_faces(faces, "largest")] == [PEOPLE.index("london_092")]
    assert select_faces([], "largest") == []


@pytest.mark.parametrize("person", PEOPLE)
def test_reference_from_another_photo_picks_that_person(person):
    faces, embeddings = composite()
    chosen = select_faces(faces, "reference", reference_embedding=neutral_reference(person), embeddings=embeddings)
    assert [face.index for face in chosen] == [PEOPLE.index(person)]


def test_reference_keeps_embeddings_paired_with_their_faces():
    faces, embeddings = composite()
    reference = neutral_reference("london_136")
    chosen = select_faces(faces[::-1], "reference", reference_embedding=reference, embeddings=embeddings[::-1])
    assert [face.index for face in chosen] == [1]


def test_reference_of_someone_absent_selects_nobody():
    faces, embeddings = composite()
    reference = neutral_reference("london_006")
    assert select_faces(faces, "reference", reference_embedding=reference, embeddings=embeddings) == []


def test_reference_image_without_a_face_is_an_error():
    blank = np.full((300, 400, 3), 128, np.uint8)
    with pytest.raises(InfoswapError, match="^ref.png: no face found to use as the reference$"):
        embed_reference(blank, finder()(blank), recognizer(), "ref.png")


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "index", "index": 5}, "face index 5 out of range: image has 3 faces"),
    ({"mode": "index", "index": -1}, "face index -1 out of range: image has 3 faces"),
    ({"mode": "index"}, "face selection by index needs a face index"),
    ({"mode": "biggest"}, "unknown face selection 'biggest'; choose one of all, index, largest, reference"),
    ({"mode": "reference"}, "face selection by reference needs a reference face"),
    ({"mode": "reference", "reference_embedding": np.ones(128), "threshold": 3.0},
     "reference threshold must lie in (0, 2) (a cosine distance), got 3.0"),
])
def test_bad_selection_says_what_is_wrong(kwargs, message):
    faces, embeddings = composite()
    with pytest.raises(InfoswapError) as caught:
        select_faces(faces, embeddings=embeddings, **kwargs)
    assert str(caught.value) == message


@pytest.mark.slow
def test_default_threshold_separates_the_bundled_identities():
    """The numbers in select.py's docstring: every same-person pair below, every other pair above."""
    paths = sorted(FACES.glob("identities/*/*.jpg"))
    embeddings, people = [], []
    for path in paths:
        pixels, faces = photo(str(path.relative_to(FACES)))
        assert len(faces) == 1, path
        embeddings.append(embed_faces(pixels, list(faces), recognizer())[0])
        people.append(path.parent.name)
    same, different = [], []
    for i, j in itertools.combinations(range(len(paths)), 2):
        distance = identity_distance(embeddings[i][None], embeddings[j])[0]
        (same if people[i] == people[j] else different).append(distance)
    assert len(same) == 40 and len(different) == 456
    assert max(same) < DEFAULT_THRESHOLD - 0.01
    assert min(different) > DEFAULT_THRESHOLD + 0.01
