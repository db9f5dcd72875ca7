"""Credentials masked out of text: the one function every error line, report and log uses.

A storage URL or connection string may carry a password in several forms, each masked as
``***`` (what identifies the place stays: scheme, user, host, database):

* the userinfo of a URL, ``scheme://user:PASSWORD@host`` -- also with unencoded ``@`` or ``:``
  in the password (everything up to the last ``@`` of the word is taken as userinfo);
* a query parameter, ``...?password=PASSWORD&...`` (``password``, ``passwd``, ``pwd``,
  ``sslpassword``; any case);
* a keyword/value connection string (libpq), ``host=h password=PASSWORD`` or
  ``password = 'with spaces'``, quoted or not.
"""

from __future__ import annotations

import re

MASK = "***"
_KEYS = r"(?:sslpassword|password|passwd|pwd)"
# key=value (query string or keyword DSN); a value is quoted (backslash escapes) or runs to the
# next space, '&', ';' or quote
_KEYWORD = re.compile(
    rf"(?i)(?<![\w.-])({_KEYS}\s*=\s*)('(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?|[^\s&;'\"]*)"
)
# scheme://user:password@ -- greedy up to the last '@' of the word (an unencoded '@' in the
# password), the user without ':', '/' or '@'
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/@:'\"]*):[^\s'\"]*@")


def mask_credentials(text: str) -> str:
    """``text`` with every password in it replaced by ``***`` (idempotent)."""
    text = _USERINFO.sub(lambda m: f"{m.group(1)}:{MASK}@", text)
    return _KEYWORD.sub(lambda m: f"{m.group(1)}{MASK}", text)
