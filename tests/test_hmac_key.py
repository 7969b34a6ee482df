"""Signed links' HMAC keys (alertcast.settings.hmac_key): from the variable or its file, never
both, never too short, and never quoted in the error that refuses one."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from alertcast.errors import ConfigurationError
from alertcast.settings import SECRET_BYTES, hmac_key

GOOD = "k" * SECRET_BYTES
SHORT = "short-but-still-someones-secret"


def test_the_variable_or_the_file_gives_the_key(tmp_path: Path) -> None:
    assert hmac_key(SecretStr(GOOD), None, "ALERTCAST_X_SECRET") == GOOD.encode()
    key_file = tmp_path / "key"
    key_file.write_text(GOOD + "\n")
    assert hmac_key(SecretStr(""), key_file, "ALERTCAST_X_SECRET") == GOOD.encode()
    assert hmac_key(SecretStr(""), None, "ALERTCAST_X_SECRET") is None


def test_refusals_say_what_to_fix_and_never_quote_the_key(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(SHORT)
    cases = [
        ((SecretStr(GOOD), key_file), "not both"),
        ((SecretStr(SHORT), None), f"at least {SECRET_BYTES} bytes"),
        ((SecretStr(""), key_file), f"at least {SECRET_BYTES} bytes"),
        ((SecretStr(""), tmp_path / "missing"), "cannot read ALERTCAST_X_SECRET_FILE"),
    ]
    for (secret, path), said in cases:
        with pytest.raises(ConfigurationError, match=said) as refused:
            hmac_key(secret, path, "ALERTCAST_X_SECRET")
        assert SHORT not in str(refused.value) and GOOD not in str(refused.value)
