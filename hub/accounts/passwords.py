"""The rules every password set in the hub must meet, in one place (ASVS 5.0 V6.2).

Length, not composition: NIST SP 800-63B and ASVS 6.2.5 both say that rules such as "one
digit and one symbol" make passwords worse, not better, so there are none here.

- At least ``MIN_LENGTH`` = 15 characters for a password its owner chooses. ASVS 6.2.1
  allows 8 as a floor but recommends 15, and NIST SP 800-63B-4 asks for 15 wherever a
  password is the only factor. In the hub it sometimes is: a user whose sign-in was reset
  signs in with a password alone until they enrol a new authenticator, SSO-less demo users
  never have a second factor, and the data behind the password is special-category
  (health, criminal offence, victims' addresses). A passphrase of four words is longer
  than 15 characters, so the rule costs users little.
- At most ``MAX_LENGTH`` = 1024 characters: far beyond any real passphrase (ASVS 6.2.9
  asks that 64 work), short enough that hashing cannot be used to exhaust the server.
  A longer password is refused with an error, never silently truncated (ASVS 6.2.8).
- Not one of the ~20,000 most common passwords (ASVS 6.2.4 asks for the top 3,000).
- Not containing the username or a context word (``CONTEXT_WORDS``, ASVS 6.1.2 and
  6.2.11): the words an attacker who knows the service would try first.

The common-password list, ``common-passwords.txt.gz`` beside this file, is Royce
Williams' list of the 20,000 most common passwords (lower-cased, de-duplicated;
https://gist.github.com/roycewilliams/226886fd01572964e1431ac8afc999ce), copied
unchanged from Django 5.2 (``django/contrib/auth/common-passwords.txt.gz``, BSD-3-Clause
licence, Copyright (c) Django Software Foundation and individual contributors).
"""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

MIN_LENGTH = 15
MAX_LENGTH = 1024
#: Words that name this service; a password containing one is among the first guessed.
CONTEXT_WORDS = ("stac", "hub")

COMMON_PASSWORDS_FILE = Path(__file__).with_name("common-passwords.txt.gz")


@cache
def common_passwords() -> frozenset[str]:
    """The common-password list, read once, as lower-case strings."""
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def too_long(password: str) -> bool:
    """Over the limit: refused (with a 400) before anything is hashed or written."""
    return len(password) > MAX_LENGTH


def problem(password: str, username: str) -> str | None:
    """Why ``password`` may not be chosen by ``username``, as a sentence for the form, or
    None when it is acceptable. Checked exactly as typed: no trimming, no case change."""
    if not password:
        return "Enter a new password"
    if too_long(password):
        return f"Password must be {MAX_LENGTH} characters or fewer"
    if len(password) < MIN_LENGTH:
        return f"Password must be at least {MIN_LENGTH} characters long"
    lowered = password.lower()
    if lowered in common_passwords() or lowered.strip() in common_passwords():
        return "This password is too common. Choose a less predictable password"
    if username and username.strip().lower() in lowered:
        return "Password must not contain your username"
    word = next((w for w in CONTEXT_WORDS if w in lowered), None)
    if word is not None:
        return f"Password must not contain the word \u201c{word}\u201d"
    return None
