"""Mapping tables in the settings: compiled as they load, refused with the file and the key."""

from pathlib import Path

import pytest

from intercom_destination.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[actions.identify_contact.mapping]\nname = { "@paht" = "$.traits.x" }',
            "actions.identify_contact.mapping.name: unknown directive '@paht' "
            "(known: @path, @template, @if, @literal)",
        ),
        (
            '[actions.identify_contact.mapping]\nnickname = "x"',
            "actions.identify_contact.mapping.nickname: not a field of this action (its fields: "
            "avatar, companies, custom_attributes, email, external_id, last_seen_at, name, phone, "
            "signed_up_at, unsubscribed_from_emails)",
        ),
        (
            "[actions.track_events]\nenabled = false",
            "actions.track_events: no such action "
            "(actions: identify_contact, track_event, group_company)",
        ),
        (
            "[actions.track_event]\ntrigger = 'type = \"track\" and'",
            "actions.track_event.trigger: expected a field such as type, event or "
            "properties.plan at character 19, found the end",
        ),
        ("[actions.track_event]\nfilter = 1", "actions.track_event.filter: not a key here"),
        (
            "[actions.track_event]\nenabled = 1",
            "actions.track_event.enabled: must be true or false",
        ),
        (
            '[[subscriptions]]\naction = "send_email"\ntrigger = "type exists"',
            "subscriptions[0].action: name one of identify_contact, track_event, group_company",
        ),
        (
            '[[subscriptions]]\naction = "track_event"',
            "subscriptions[0].trigger: missing: say which events it takes",
        ),
        (
            '[[subscriptions]]\naction = "track_event"\ntrigger = "type exists"\n'
            '[subscriptions.mapping]\nprice = { "@path" = 5 }',
            'subscriptions[0].mapping.price: @path takes a string such as "$.traits.email", not 5',
        ),
        (
            '[[subscriptions]]\nname = "track_event"\naction = "track_event"\ntrigger = "type exists"',
            "subscriptions[0].name: 'track_event' names two subscriptions",
        ),
        ("[[filters]]\nif = 'type = 1'", "filters[0]: does nothing: give drop = true"),
        ("[[filters]]\nif = 'type ='\ndrop = true", "filters[0].if: expected a value"),
        ("[[filters]]\ndrop_traits = 'ssn'", "filters[0].drop_traits: must be a list of names"),
    ],
)
def test_a_bad_mapping_names_the_file_and_the_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(toml + "\n")
    with pytest.raises(SettingsError) as raised:
        load_settings(path)
    assert str(raised.value).startswith(f"{path}: {message}")


def test_a_good_mapping_is_compiled_once_as_the_settings_load(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[actions.track_event]\ntrigger = \'type = "track" and event = "A"\'\n')
    settings = load_settings(path)
    assert settings.mapping_options is settings.mapping_options
    [_, track, _] = settings.mapping_options.mappings.subscriptions
    assert track.trigger == 'type = "track" and event = "A"'


def test_a_mapping_given_in_code_is_refused_without_a_file_name() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(None, {}, actions={"track_event": {"trigger": "type"}})
    assert str(raised.value) == (
        "actions.track_event.trigger: expected =, !=, <, <=, >, >= or exists at character 5, "
        "found the end"
    )
