"""The privacy notice of GDPR art. 13: complete by default in Danish and English, and the municipality's
own names and texts where it gives them."""

from __future__ import annotations

import pytest

from ideaflow.privacy import SECTIONS, PrivacySettings, missing_details, privacy_notice
from states.errors import BadInput


@pytest.mark.parametrize("lang, basis, complaint", [("da", "artikel 6, stk. 1, litra e", "Datatilsynet"),
                                                    ("en", "Article 6(1)(e)", "Danish Data Protection Agency")])
def test_the_default_notice_says_what_article_13_asks(lang, basis, complaint):
    settings = PrivacySettings(controller="Roskilde Kommune", contact="kommunen@roskilde.dk",
                               dpo="dpo@roskilde.dk", expiry_hours=48)
    notice = privacy_notice(settings, lang)
    assert [s.key for s in notice.sections] == list(SECTIONS)
    text = {s.key: s.text for s in notice.sections}
    assert text["controller"].startswith("Roskilde Kommune") and "kommunen@roskilde.dk" in text["controller"]
    assert "dpo@roskilde.dk" in text["dpo"]
    assert basis in text["legal_basis"] and ("samtykke" if lang == "da" else "consent") in text["legal_basis"]
    assert "48" in text["retention"] and complaint in text["rights"]
    assert all(s.heading and s.text and "{" not in s.text for s in notice.sections)


def test_the_municipality_may_replace_any_text(tmp_path):
    file = tmp_path / "privatliv.yaml"
    file.write_text("da:\n  purpose: \"{controller} bruger oplysningerne til puljen.\"\n", encoding="utf-8")
    notice = privacy_notice(PrivacySettings(controller="Tårnby Kommune", notice_file=file), "da")
    assert {s.key: s.text for s in notice.sections}["purpose"] == "Tårnby Kommune bruger oplysningerne til puljen."
    english = privacy_notice(PrivacySettings(controller="Tårnby Kommune", notice_file=file), "en")
    assert {s.key: s.text for s in english.sections}["purpose"].startswith("We use the data")


@pytest.mark.parametrize("content, needle", [
    ("fr:\n  purpose: x\n", "da: and en: only"),
    ("da:\n  purpos: x\n", "may hold texts for"),
    ("da:\n  purpose: \"{kommune}\"\n", "names a value that does not exist"),
    ("da: [unclosed\n", "not valid YAML"),
])
def test_a_broken_texts_file_is_refused_with_a_reason(tmp_path, content, needle):
    file = tmp_path / "privatliv.yaml"
    file.write_text(content, encoding="utf-8")
    with pytest.raises(BadInput, match=needle):
        privacy_notice(PrivacySettings(notice_file=file), "da")


@pytest.mark.parametrize("lang, controller, contact, dpo", [
    ("da", "Kommunen er dataansvarlig", "Kommunen har ikke oplyst sine kontaktoplysninger her.",
     "Kommunen har ikke oplyst, hvordan du kontakter dens databeskyttelsesrådgiver."),
    ("en", "The municipality is the controller", "The municipality has not given its contact details here.",
     "The municipality has not given how to contact its data protection officer.")])
def test_contact_details_not_given_are_a_marked_placeholder_not_a_complete_sentence(lang, controller, contact, dpo):
    """GDPR art. 13(1)(a)-(b): the controller's and the DPO's contact details; only the municipality has them.
    Until it gives its name, the notice says "the municipality" in the reader's language."""
    notice = {s.key: s for s in privacy_notice(PrivacySettings(), lang).sections}
    assert notice["controller"].text.startswith(controller)
    assert (notice["controller"].missing, notice["dpo"].missing) == (contact, dpo)
    assert notice["dpo"].text == ""  # nothing that reads as an answer ("contact the municipality")
    assert all(not s.missing for key, s in notice.items() if key not in ("controller", "dpo"))
    assert missing_details(PrivacySettings()) == ["controller", "contact", "dpo"]
    given = PrivacySettings(controller="Roskilde Kommune", contact="kommunen@roskilde.dk", dpo="dpo@roskilde.dk")
    assert missing_details(given) == []
    assert not any(s.missing for s in privacy_notice(given, lang).sections)


def test_the_municipalitys_own_text_for_a_section_counts_as_its_contact_details(tmp_path):
    file = tmp_path / "privatliv.yaml"
    file.write_text("da:\n  dpo: \"Skriv til dpo@taarnby.dk.\"\nen:\n  dpo: \"Write to dpo@taarnby.dk.\"\n"
                    "  controller: \"{controller}. Contact: {contact}\"\n", encoding="utf-8")
    settings = PrivacySettings(controller="Tårnby Kommune", notice_file=file)
    assert missing_details(settings) == ["contact"]  # the English text names the missing contact
    notice = {s.key: s for s in privacy_notice(settings, "da").sections}
    assert (notice["dpo"].text, notice["dpo"].missing) == ("Skriv til dpo@taarnby.dk.", "")
    assert notice["controller"].missing == "Kommunen har ikke oplyst sine kontaktoplysninger her."
