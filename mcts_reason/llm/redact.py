"""Credentials out of anything shown or stored: userinfo and key-like query parameters of URLs.

`http://user:sk-123@host:8000/v1?api_key=sk-456` is shown and stored as
`http://***@host:8000/v1?api_key=***`. The real URL is used only to connect.
"""
from __future__ import annotations

import re
from typing import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SECRET_PARAMS = {"api_key", "apikey", "api-key", "key", "token", "access_token", "password",
                 "secret", "sig", "signature"}
_USERINFO = re.compile(r"(?<=://)[^/?#@\s]*@")
_PARAM = re.compile(r"(?i)([?&;](?:" + "|".join(map(re.escape, sorted(SECRET_PARAMS))) +
                    r")=)[^&#\s]*")


def redact_url(url: str) -> str:
    """`url` with its userinfo and secret query parameters replaced by ***. Works on text that
    is not a well-formed URL too (by pattern), so an error message about a bad URL is safe."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        if parts.netloc and "@" in parts.netloc:
            parts = parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1])
        if parts.query:
            pairs = parse_qsl(parts.query, keep_blank_values=True)
            if any(k.lower() in SECRET_PARAMS for k, _ in pairs):
                parts = parts._replace(query=urlencode(
                    [(k, "***" if k.lower() in SECRET_PARAMS else v) for k, v in pairs],
                    safe="*"))
        url = urlunsplit(parts)
    except ValueError:
        pass
    return _PARAM.sub(r"\1***", _USERINFO.sub("***@", url))


def redact_text(text: str) -> str:
    """Every URL-looking part of `text` redacted (for messages and echoed command lines)."""
    return _PARAM.sub(r"\1***", _USERINFO.sub("***@", text)) if "://" in text or "=" in text \
        else text


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A command line safe to print (e.g. the resume hint): URLs in it redacted."""
    return [redact_text(a) for a in argv]
