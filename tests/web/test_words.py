"""Numbers as the console's pages write them, in each language: one function per kind of number, so the
idea form's limit, an attachment's link, the review form and the criteria form cannot disagree."""

import pytest

from web.routes.words import file_size, weight

MB = 1024 * 1024


@pytest.mark.parametrize(("n_bytes", "da", "en"), [
    (1, "1 kB", "1 kB"),
    (12_500, "12 kB", "12 kB"),
    (10 * MB, "10 MB", "10 MB"),            # a limit: no ",0"
    (MB + MB // 2, "1,5 MB", "1.5 MB"),
    (2 * MB + 1, "2 MB", "2 MB"),
])
def test_a_file_size_is_written_in_the_readers_language(n_bytes, da, en):
    assert (file_size(n_bytes, "da"), file_size(n_bytes, "en")) == (da, en)


@pytest.mark.parametrize(("value", "da", "en"), [(1.0, "1", "1"), (2, "2", "2"), (1.5, "1,5", "1.5"),
                                                  (2.25, "2,25", "2.25")])
def test_a_weight_is_written_as_people_write_it(value, da, en):
    assert (weight(value, "da"), weight(value, "en")) == (da, en)
