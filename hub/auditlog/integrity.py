"""The audit log's side tables, checked against what the signed leaves say.

`hub audit verify` proves the events themselves. The DPO's answers are also built from two
side tables, which the signatures do not cover directly:

- ``audit_subjects`` indexes events by the people they disclosed: subject access bundles
  and a person's access history are read from it. It must hold exactly the (event, person)
  pairs that the events' signed ``subject_ids`` name. A deleted row would silently drop a
  disclosure from a bundle; an added one would invent one.
- ``audit_nodes`` holds the interior hashes that inclusion and consistency proofs are
  served from. Every node must be the hash of its two children, down to the verified leaf
  hashes, and every node a proof may ask for must be there.
"""

from __future__ import annotations

from audit.merkle import node_hash
from hub.extensions import READ_ONLY

SHOWN = 5  # differences named per kind; the count says how many more

# Every (seq, person) pair the events name, from the JSON column itself.
_NAMED_SQL = {
    "sqlite": "SELECT e.seq, CAST(j.value AS INTEGER) FROM audit_events e, "
              "json_each(e.subject_ids) j",
    "postgresql": "SELECT e.seq, CAST(j AS BIGINT) FROM audit_events e, "
                  "json_array_elements_text(CAST(e.subject_ids AS json)) j",
}
_INDEXED_SQL = "SELECT seq, person_id FROM audit_subjects"


def subject_problems(connection) -> list[str]:
    """Differences between ``audit_subjects`` and the events' signed subject ids."""
    named = _NAMED_SQL[connection.dialect.name]
    problems = []
    for first, second, message in (
            (named, _INDEXED_SQL, "audit_subjects is missing person {person} of event seq "
                                  "{seq}: a subject access bundle would leave it out"),
            (_INDEXED_SQL, named, "audit_subjects names person {person} for event seq {seq}, "
                                  "which the signed event does not")):
        rows = connection.exec_driver_sql(
            f"SELECT * FROM ({first} EXCEPT {second}) d ORDER BY 1, 2").fetchall()  # noqa: S608 -- constant SQL  # nosec B608
        problems += [message.format(seq=seq, person=person) for seq, person in rows[:SHOWN]]
        if len(rows) > SHOWN:
            problems.append(f"... and {len(rows) - SHOWN} more like it")
    return problems


def side_table_problems(engine) -> list[str]:
    """Both checks, in one snapshot that the sequencer cannot change under them."""
    options = dict(READ_ONLY)  # on SQLite, a reader beside the hub's writers
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    with engine.connect().execution_options(**options) as connection:
        return subject_problems(connection) + node_problems(connection)


def node_problems(connection) -> list[str]:
    """Every stored interior node checked against its children, level by level, from the
    stored leaf hashes (which verify has already checked against the events)."""
    below = [bytes(h) for (h,) in connection.exec_driver_sql(
        "SELECT leaf_hash FROM audit_leaves ORDER BY leaf_index")]
    size = len(below)
    stored = _stored_nodes(connection)
    problems: list[str] = []
    level = 1
    while size >> level:
        count = size >> level
        computed = [node_hash(below[2 * i], below[2 * i + 1]) for i in range(count)]
        found = stored.pop(level, {})
        problems += _level_problems(level, computed, found)
        below, level = computed, level + 1
    for extra_level, nodes in sorted(stored.items()):
        problems += [f"audit_nodes holds node ({extra_level}, {index}) for leaves the log "
                     "does not have" for index in sorted(nodes)[:SHOWN]]
    return problems[:SHOWN * 4]


def _stored_nodes(connection) -> dict[int, dict[int, bytes]]:
    nodes: dict[int, dict[int, bytes]] = {}
    for level, index, digest in connection.exec_driver_sql(
            "SELECT level, node_index, hash FROM audit_nodes WHERE level > 0"):
        nodes.setdefault(int(level), {})[int(index)] = bytes(digest)
    return nodes


def _level_problems(level: int, computed: list[bytes], found: dict[int, bytes]) -> list[str]:
    problems = []
    for index, digest in enumerate(computed):
        held = found.pop(index, None)
        if held is None:
            problems.append(f"audit_nodes is missing node ({level}, {index}): proofs "
                            "that need it cannot be served")
        elif held != digest:
            problems.append(f"audit_nodes node ({level}, {index}) is not the hash of its "
                            "children: proofs served from it would not verify")
    problems += [f"audit_nodes holds node ({level}, {index}) for leaves the log does not "
                 "have" for index in sorted(found)]
    return problems
