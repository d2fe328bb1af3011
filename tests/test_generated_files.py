"""Files generated from the code (`./dev docs`) are committed as the code makes them now."""

from __future__ import annotations

from pathlib import Path

import pytest

from techtribe import generated
from techtribe.config import Settings
from techtribe.errors import ERROR_CODES


@pytest.mark.parametrize("name", sorted(generated.GENERATORS))
def test_committed_file_is_what_the_code_generates(name: str) -> None:
    committed = (generated.ROOT / name).read_text(encoding="utf-8")

    assert committed == generated.GENERATORS[name](), f"{name} is stale: run ./dev docs"


def test_every_setting_is_documented_with_its_variable_in_configuration_md() -> None:
    text = generated.configuration_md()

    for name, field in Settings.model_fields.items():
        assert field.description, f"Settings.{name} needs Field(description=...)"
        assert f"| `{name.upper()}` |" in text


def test_check_names_the_file_that_went_stale(tmp_path: Path) -> None:
    for name, make in generated.GENERATORS.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(make(), encoding="utf-8")
    with (tmp_path / "docs/configuration.md").open("a", encoding="utf-8") as out:
        out.write("| `HAND_EDITED` | string | unset | Not from Settings. |\n")

    assert generated.stale(tmp_path) == ["docs/configuration.md"]


def test_api_docs_explain_every_error_code() -> None:
    text = (generated.ROOT / "docs" / "api.md").read_text(encoding="utf-8")

    missing = [code for code in ERROR_CODES if f"| `{code}` |" not in text]
    assert missing == [], "add these codes to the table in docs/api.md"


def test_no_document_points_outside_the_repository() -> None:
    documents = [*generated.ROOT.glob("*.md"), *(generated.ROOT / "docs").glob("*.md")]

    assert len(documents) > 5
    for document in documents:
        text = document.read_text(encoding="utf-8")
        assert "../shared" not in text, document
        assert "/work/" not in text, document


def test_readme_stays_a_quick_start() -> None:
    readme = (generated.ROOT / "README.md").read_bytes()

    assert len(readme) < 8 * 1024
    assert b"./dev serve" in readme
    assert b"./dev test" in readme
