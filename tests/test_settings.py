from pathlib import Path

import pytest

from intercom_destination.delivery.connection import delivery_options
from intercom_destination.settings import Secret, Settings, SettingsError, load_settings


def test_defaults_are_the_seeds() -> None:
    settings = load_settings()
    assert settings == Settings()
    assert settings.nested == "drop"
    assert settings.max_metadata_keys == 10
    assert settings.collect_context is False
    assert settings.unidentified == "skip"
    assert settings.page_events is False
    assert settings.base_url == "https://api.intercom.io"
    assert settings.api_version == "2.14"


@pytest.mark.parametrize(
    ("region", "url"),
    [
        ("us", "https://api.intercom.io"),
        ("eu", "https://api.eu.intercom.io"),
        ("au", "https://api.au.intercom.io"),
    ],
)
def test_regions(region: str, url: str) -> None:
    assert load_settings(environ={"INTERCOM_REGION": region}).base_url == url


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(
        'region = "eu"\nnested = "flatten"\nmax_metadata_keys = 5\npage_events = true\n'
    )
    settings = load_settings(
        path,
        {
            "INTERCOM_REGION": "au",
            "INTERCOM_API_URL": "http://127.0.0.1:8089/",
            "INTERCOM_DESTINATION_MAX_METADATA_KEYS": "7",
            "INTERCOM_DESTINATION_COLLECT_CONTEXT": "true",
            "UNRELATED": "x",
        },
    )
    assert settings.region == "au"
    assert settings.base_url == "http://127.0.0.1:8089"
    assert settings.nested == "flatten"
    assert settings.max_metadata_keys == 7
    assert settings.collect_context is True
    assert settings.page_events is True


def test_write_keys_are_comma_separated_secrets() -> None:
    settings = load_settings(
        environ={"SEGMENT_WRITE_KEYS": " key1, key2 ,,", "INTERCOM_ACCESS_TOKEN": "tok"}
    )
    assert settings.write_keys == (Secret("key1"), Secret("key2"))
    assert settings.access_token is not None
    assert settings.access_token.reveal() == "tok"


def test_secrets_never_show_in_a_repr() -> None:
    settings = load_settings(
        environ={"SEGMENT_WRITE_KEYS": "wk-123", "INTERCOM_ACCESS_TOKEN": "tok-456"}
    )
    text = repr(settings) + str(settings)
    assert "wk-123" not in text
    assert "tok-456" not in text


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"INTERCOM_REGION": "mars"}, "region: 'mars' is not one of us, eu, au"),
        (
            {"INTERCOM_DESTINATION_MAX_METADATA_KEYS": "11"},
            "max_metadata_keys: Expected `int` <= 10",
        ),
        (
            {"INTERCOM_DESTINATION_NESTED": "explode"},
            "nested: 'explode' is not one of drop, flatten, stringify",
        ),
        (
            {"INTERCOM_DESTINATION_NO_SUCH_SETTING": "1"},
            "no_such_setting: not a setting",
        ),
        # A secret is named, never shown.
        (
            {"INTERCOM_ACCESS_TOKEN": "tok\n456"},
            "access_token: contains a control or invisible character (a line break, a tab, "
            "a byte order mark); the value is not shown",
        ),
        (
            {"INTERCOM_ACCESS_TOKEN": "\ufefftok456"},
            "access_token: contains a control or invisible character (a line break, a tab, "
            "a byte order mark); the value is not shown",
        ),
        (
            {"SEGMENT_WRITE_KEYS": "wk-1,wk\x002"},
            "write_keys[1]: contains a control or invisible character (a line break, a tab, "
            "a byte order mark); the value is not shown",
        ),
    ],
)
def test_bad_settings_name_the_setting(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(environ=environ)
    assert str(raised.value) == message


def test_a_file_that_starts_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('region = "eu"\n', encoding="utf-8-sig")
    assert load_settings(path).region == "eu"


def test_a_broken_file_is_reported_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("region = ")
    with pytest.raises(SettingsError, match=str(path)):
        load_settings(path)


def test_secrets_lose_the_whitespace_a_copy_from_a_file_adds(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('write_keys = [" wk-1\\n", "wk-2\\r\\n"]\n')
    settings = load_settings(path, {"INTERCOM_ACCESS_TOKEN": "tok-456\n"})
    assert settings.access_token == Secret("tok-456")
    assert settings.write_keys == (Secret("wk-1"), Secret("wk-2"))
    # Only whitespace is no token at all, as an empty value is.
    assert load_settings(environ={"INTERCOM_ACCESS_TOKEN": " \r\n"}).access_token is None


def test_an_empty_write_key_in_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('write_keys = ["wk-1", " "]\n')
    with pytest.raises(SettingsError) as raised:
        load_settings(path)
    assert str(raised.value) == f"{path}: write_keys[1]: is empty"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("rate_share = 2\n", "rate_share: Expected `float` <= 1.0"),
        ('region = "mars"\n', "region: 'mars' is not one of us, eu, au"),
        ("[action.identify_contact.mapping]\n", "action: not a setting"),
    ],
)
def test_a_bad_value_in_the_file_is_reported_with_its_path(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as raised:
        load_settings(path)
    assert str(raised.value) == f"{path}: {problem}"


def test_a_bad_value_the_environment_gives_is_not_blamed_on_the_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('rate_share = 0.5\nregion = "eu"\n')
    with pytest.raises(SettingsError) as raised:
        load_settings(path, {"INTERCOM_DESTINATION_RATE_SHARE": "2"})
    assert str(raised.value) == "rate_share: Expected `float` <= 1.0"


def test_the_planner_gets_the_mapping_settings_and_no_credentials() -> None:
    settings = Settings(
        access_token=Secret("t"), nested="flatten", max_string_length=20, anonymous="lead"
    )
    options = settings.mapping_options
    assert (options.nested, options.max_string_length, options.anonymous) == ("flatten", 20, "lead")
    assert {"access_token", "write_keys", "database_url"}.isdisjoint(options.__struct_fields__)


def test_the_executor_gets_the_delivery_settings_and_no_credentials() -> None:
    settings = Settings(
        access_token=Secret("t"), unknown_contact="create", retry_for=60.0, max_custom_attributes=3
    )
    options = delivery_options(settings)
    assert (options.unknown_contact, options.retry_for, options.max_custom_attributes) == (
        "create",
        60.0,
        3,
    )
    assert {"access_token", "write_keys", "database_url"}.isdisjoint(options.__struct_fields__)
