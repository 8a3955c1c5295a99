"""Secrets never shown: database URLs with their passwords masked, and expanded secret values blanked.

Every place that shows a URL or a value a user may have taken from the environment (error lines, log
lines, the ``--dry-run`` plan, the report's metadata) passes it through :func:`redact` or
:func:`mask_url`:

- a URL's password (``user:pw@host``, also when an unencoded ``@`` sits inside it) and every query
  parameter whose name says secret (``?password=``, ``sslpassword``, ``token``, ``api_key``...) become ``***``;
  SQLAlchemy's ``make_url(...).render_as_string(hide_password=True)`` does the part it can;
- a URL with a typo (``postgresql:/user:pw@host``) is masked the same way, by its text;
- values registered with :func:`add_secret` (a pipeline registers every ``${NAME}`` it expands whose
  name says secret, and every password it finds in a URL) become ``***`` wherever they appear.
"""

from __future__ import annotations

import re
import threading

MASK = "***"
#: environment variable or query parameter names that hold secrets
SECRET_NAME = re.compile(
    r"pass|pwd|(?:^|_)pw(?:$|_)|secret|token|api_?key|(?:^|_)keys?(?:$|_)|private|credential|auth", re.IGNORECASE
)
#: a scheme and one to three slashes: also catches ``postgresql:/user:pw@host`` (one slash missing)
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*:/{1,3}[^\s'\"<>]+")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*:/{1,3})(.*)", re.DOTALL)
_QUERY_PAIR = re.compile(r"([?&;])([^=&;#]*)=([^&;#]*)")
#: values this short are too likely to appear by chance to be blanked by value (URLs still mask them)
MIN_SECRET_LENGTH = 4

_lock = threading.Lock()
_secrets: set[str] = set()


def add_secret(value) -> None:
    """Blank ``value`` in everything :func:`redact` sees from now on (in this process)."""
    text = "" if value is None else str(value)
    if len(text) >= MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(text)


def forget_secrets() -> None:
    """Drop every registered secret (tests; a long-lived process between jobs)."""
    with _lock:
        _secrets.clear()


def is_secret_name(name: str) -> bool:
    """True for names such as ``PGPASSWORD``, ``DB_PW``, ``API_TOKEN``, ``STRIPE_KEY``, ``sslpassword``.

    >>> [is_secret_name(n) for n in ("PGPASSWORD", "DB_PW", "STRIPE_KEY", "RUN_ID", "MONKEY", "EPOCHS")]
    [True, True, True, False, False, False]
    """
    return bool(SECRET_NAME.search(name))


def url_secrets(url: str) -> list[str]:
    """The password and secret query values of ``url`` (to register with :func:`add_secret`)."""
    found = []
    match = _SCHEME.fullmatch(str(url))
    if not match:
        return found
    rest = match.group(2)
    head = rest.split("?", 1)[0]
    if "@" in head:
        userinfo = head[: head.rindex("@")]
        if ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
    if "?" in rest:
        for _, key, value in _QUERY_PAIR.findall("?" + rest.split("?", 1)[1]):
            if is_secret_name(key) and value:
                found.append(value)
    return found


def _mask_url_text(text: str) -> str:
    """Mask a URL by its text alone: for URLs SQLAlchemy cannot parse or would parse wrongly."""
    match = _SCHEME.fullmatch(text)
    if not match:
        return text
    scheme, rest = match.groups()
    head, sep, query = rest.partition("?")
    if "@" in head:
        at = head.rindex("@")
        userinfo, host = head[:at], head[at:]
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":" + MASK
        head = userinfo + host
    if sep:
        query = _QUERY_PAIR.sub(
            lambda m: f"{m.group(1)}{m.group(2)}={MASK if is_secret_name(m.group(2)) else m.group(3)}", "?" + query
        )[1:]
    return scheme + head + sep + query


def check_url(parsed, url: str):
    """``parsed`` (a SQLAlchemy URL) after registering its secrets; ValueError for an unencoded ``@``.

    An ``@`` in a password must be written ``%40``: unencoded, the driver would take the rest of the
    password for the host name, and echo it in its error.
    """
    for secret in url_secrets(url) + [parsed.password or ""]:
        add_secret(secret)
    if "@" in (parsed.host or ""):
        raise ValueError("the password holds an unencoded '@' (write it as %40)")
    return parsed


def mask_url(url) -> str:
    """``url`` as it may be shown: password and secret query parameters replaced by ``***``.

    Examples
    --------
    >>> mask_url("postgresql+psycopg://bob:s3cret@db.internal/dw?password=s3cret&sslmode=require")
    'postgresql+psycopg://bob:***@db.internal/dw?password=***&sslmode=require'
    >>> mask_url("postgresql://bob:p@ss@db/dw")
    'postgresql://bob:***@db/dw'
    """
    text = str(url)
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(text)
    except Exception:  # not parsable (a typo, an unknown form): mask it by its text
        return _mask_url_text(text)
    if "@" in (parsed.host or "") or "@" in (parsed.username or "") or "@" in (parsed.database or ""):
        return _mask_url_text(text)  # an unencoded @ in the password: SQLAlchemy would show its tail as the host
    marker = "AIGCBIZREDACTED"
    query = {key: (marker if is_secret_name(key) else value) for key, value in parsed.query.items()}
    shown = parsed.set(query=query).render_as_string(hide_password=True)
    return shown.replace(marker, MASK)


def _mask_match(match: re.Match) -> str:
    """A URL found in a text, masked; punctuation after it (``url: message``) is not part of it."""
    url = match.group(0)
    core = url.rstrip(":,;.)]}")
    return _mask_url_text(core) + url[len(core) :]


def redact(text) -> str:
    """``text`` with every URL masked and every registered secret value blanked.

    URLs inside a text are masked by their text alone, so the rest of the line stays as written.
    """
    text = "" if text is None else str(text)
    if "/" in text:
        text = _URL_IN_TEXT.sub(_mask_match, text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text
