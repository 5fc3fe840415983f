"""Webhook signatures, retry backoff and the contacts file."""
from __future__ import annotations

import hashlib
import hmac

import pytest
from pydantic import ValidationError

from services.notification.contacts import ContactsFile
from services.notification.delivery import backoff_s, sign


def test_signature_is_hmac_sha256_of_the_exact_body():
    body = '{"kind":"overdue"}'.encode()
    expected = hmac.new(b"s" * 16, body, hashlib.sha256).hexdigest()
    assert sign("s" * 16, body) == f"sha256={expected}"
    assert sign("s" * 16, body + b" ") != sign("s" * 16, body)


def test_backoff_doubles_up_to_a_cap():
    assert [backoff_s(n, 2.0, 10.0) for n in (1, 2, 3, 4, 5)] == [2.0, 4.0, 8.0, 10.0, 10.0]


def test_contacts_file_is_validated():
    ok = ContactsFile.model_validate({"units": {"pudong": {"webhook": {"url": "http://x/h", "secret": "k" * 16}, "email": ["a@b"]}}})
    assert ok.units["pudong"].webhook.url == "http://x/h"
    with pytest.raises(ValidationError):
        ContactsFile.model_validate({"units": {"pudong": {"webhook": {"url": "ftp://x", "secret": "short"}}}})
