"""The search query language, parsed once and compiled for each database's full-text engine.

    architecture database          both words (AND is implied)
    "design patterns"              a phrase: the words next to each other, in order
    auth*                          a prefix: auth, authentication, authorize…
    redis OR memcached             either side (OR binds looser than AND)
    -legacy   NOT legacy           without this word

Words are matched after the index's own tokenizing (SQLite FTS5 `unicode61`, PostgreSQL `simple`: lower-cased,
no stemming, so `decision*` finds `decisions` too). Every term is passed to the engine quoted (FTS5) or through
bound parameters (PostgreSQL), so no input can be read as engine syntax; what this grammar rejects (an unclosed
quote, a lone `*`, a group of only negations, nothing searchable) is a 400 naming the parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import ValidationFailed

MAX_QUERY_CHARS = 500
MAX_TERMS = 32
_WORD = re.compile(r"\w+", re.UNICODE)
_TOKEN = re.compile(r'\s*(?:(-)?"([^"]*)("?)|(\S+))')


@dataclass(frozen=True)
class Term:
    text: str
    negated: bool = False
    prefix: bool = False
    phrase: bool = False

    @property
    def words(self) -> list[str]:
        return _WORD.findall(self.text)


@dataclass(frozen=True)
class Query:
    groups: tuple[tuple[Term, ...], ...]  # OR of ANDs

    @property
    def terms(self) -> list[Term]:
        return [term for group in self.groups for term in group]


def bad_query(field: str, message: str, value: str) -> ValidationFailed:
    detail = {"field": field, "constraint": "syntax", "message": message, "value": value[:200]}
    return ValidationFailed(f"Invalid search query in {field}: {message}", details=[detail])


def parse(text: str, field: str = "pattern") -> Query:
    if len(text) > MAX_QUERY_CHARS:
        raise bad_query(field, f"At most {MAX_QUERY_CHARS} characters", text)
    groups: list[list[Term]] = [[]]
    negate_next = False
    position = 0
    stripped = text.strip()
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if match is None:
            break
        position = match.end()
        minus, quoted, closing, bare = match.groups()
        if quoted is not None:
            if closing != '"':
                raise bad_query(field, "Unclosed quote", text)
            prefix = stripped[position:position + 1] == "*"
            if prefix:
                position += 1
            term = Term(quoted, negated=bool(minus) or negate_next, prefix=prefix, phrase=True)
        else:
            if bare == "OR":
                if not groups[-1] or negate_next:
                    raise bad_query(field, "OR needs a term on each side", text)
                groups.append([])
                continue
            if bare in ("NOT", "AND"):
                if bare == "NOT":
                    if negate_next:
                        raise bad_query(field, "NOT NOT is not allowed", text)
                    negate_next = True
                continue
            negated = negate_next
            if bare.startswith("-") and len(bare) > 1:
                negated, bare = True, bare[1:]
            prefix = bare.endswith("*")
            core_text = bare.rstrip("*")
            if "*" in core_text:
                raise bad_query(field, "'*' may only end a term (a prefix search)", text)
            term = Term(core_text, negated=negated, prefix=prefix)
            if not term.words and not prefix:
                continue  # bare punctuation (`+`, `&`): not searchable, as the tokenizer would drop it too
        negate_next = False
        if not term.words:
            raise bad_query(field, f"Nothing searchable in {term.text or '*'!r}: use letters or digits", text)
        groups[-1].append(term)
    if negate_next:
        raise bad_query(field, "NOT needs a term after it", text)
    if not groups[-1]:
        raise bad_query(field, "Empty search query" if len(groups) == 1 else "OR needs a term on each side", text)
    for group in groups:
        if all(term.negated for term in group):
            raise bad_query(field, "Each part of a query needs at least one word that must match, not only "
                            "exclusions", text)
    if sum(len(group) for group in groups) > MAX_TERMS:
        raise bad_query(field, f"At most {MAX_TERMS} terms", text)
    return Query(tuple(tuple(group) for group in groups))


# ---- SQLite FTS5 -----------------------------------------------------------------------------------------


def to_fts5(query: Query) -> str:
    """An FTS5 MATCH expression. Every term is a quoted string (`"` doubled), which FTS5 tokenizes like the
    documents; a prefix is `"…" *`."""
    def term(t: Term) -> str:
        quoted = '"' + t.text.replace('"', '""') + '"'
        return quoted + " *" if t.prefix else quoted

    parts = []
    for group in query.groups:
        positive = " AND ".join(term(t) for t in group if not t.negated)
        negative = "".join(f" NOT {term(t)}" for t in group if t.negated)
        parts.append(f"({positive}{negative})")
    return " OR ".join(parts)


# ---- PostgreSQL tsquery ----------------------------------------------------------------------------------


def to_tsquery_sql(query: Query, config: str, params: dict[str, str]) -> str:
    """A tsquery SQL expression over bound parameters (added to `params`). Phrases and words go through
    `phraseto_tsquery`, which parses them like the documents; a prefix is built from its words (`'w1' <-> 'w2':*`),
    which contain only word characters and so need no further escaping."""
    def term(t: Term) -> str:
        name = f"q{len(params)}"
        if t.prefix:
            words = t.words
            params[name] = " <-> ".join(f"'{w}'" for w in words[:-1]) + (" <-> " if len(words) > 1 else "") + \
                f"'{words[-1]}':*"
            expression = f"to_tsquery('{config}', :{name})"
        else:
            params[name] = t.text
            expression = f"phraseto_tsquery('{config}', :{name})"
        return f"!!{expression}" if t.negated else expression

    groups = []
    for group in query.groups:
        groups.append("(" + " && ".join(term(t) for t in group) + ")")
    return "(" + " || ".join(groups) + ")"
