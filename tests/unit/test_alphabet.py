"""Danish alphabetical order (states.alphabet): what a coordinator sorting by title expects."""

import random

from hypothesis import given
from hypothesis import strategies as st

from states.alphabet import compare, order_key

#: Titles in Danish alphabetical order: é as e, ü as y, æ ø å after z in that order, "aa" as å, case ignored.
DANISH_ORDER = ["10 nye bænke", "abe", "Café i kælderen", "Émile", "ende", "Ost", "über alles", "yngre", "zoo",
                "Æble", "ældrepleje", "Ænder", "Ørestad", "øst", "åben", "Aabenraa", "Ålborg"]


def test_danish_titles_sort_as_a_danish_reader_expects():
    shuffled = DANISH_ORDER[:]
    random.Random(4).shuffle(shuffled)
    assert sorted(shuffled, key=order_key) == DANISH_ORDER


def test_case_and_composed_or_decomposed_letters_make_no_difference():
    assert order_key("ÆBLE") == order_key("æble")
    assert order_key("A\u030aben") == order_key("Åben") == order_key("aaben")  # å written as a + ring above
    assert compare("Zoo", "abe") == 1 and compare("abe", "Zoo") == -1 and compare("ABE", "abe") == 0


@given(st.lists(st.text(max_size=12), max_size=30))
def test_compare_is_a_total_order_that_agrees_with_the_key(titles):
    by_key = sorted(titles, key=order_key)
    for earlier, later in zip(by_key, by_key[1:], strict=False):
        assert compare(earlier, later) <= 0 and compare(later, earlier) >= 0
