"""API routes that let anyone signed in check the audit log from outside: the latest
signed checkpoint, inclusion proofs for one event, consistency proofs between sizes.

They reveal hashes only, never an event's content, so any signed-in user may call them
(as CONTRACT.md says); a court or regulator holding a checkpoint can check a proof
with nothing but SHA-256.
"""

from __future__ import annotations

from flask import jsonify, request
from sqlalchemy import select

from audit import consistency_proof, inclusion_proof
from hub import access
from hub.api import BadInput, bp
from hub.auditlog import sequencer
from hub.auditlog.tree import AuditLeaf, DbNodeStore, b64, latest_checkpoint, tree_size
from hub.extensions import db

MAX_DIGITS = 19  # larger than any tree this log will hold; refuses absurd inputs early


def _size_arg(name: str, *, required: bool, default: int | None = None) -> int:
    """A tree size from the query string: 1 up to the current size, else 400."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        if required:
            raise BadInput(f"{name}: required", name)
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > MAX_DIGITS:
        raise BadInput(f"{name}: must be a positive whole number", name)
    value, current = int(raw), tree_size()
    if not 1 <= value <= current:
        raise BadInput(f"{name}: must be between 1 and the current tree size {current}", name)
    return value


@bp.get("/audit/checkpoint")
def audit_checkpoint():
    """The latest signed checkpoint and the key that verifies it."""
    latest = latest_checkpoint()
    if latest is None:
        access.abort(404)
    return jsonify(tree_size=latest.tree_size, root_hash=b64(latest.root_hash),
                   note=latest.note, public_key=b64(sequencer.signer().public_key))


@bp.get("/audit/events/<int:seq>/proof")
def audit_inclusion_proof(seq: int):
    """RFC 9162 inclusion proof of one event's leaf in the tree of ``tree_size``."""
    leaf = db.session.scalar(select(AuditLeaf).where(AuditLeaf.seq == seq))
    if leaf is None:
        access.abort(404)  # unknown, or not yet integrated into the tree
    latest = latest_checkpoint()
    size = _size_arg("tree_size", required=False,
                     default=latest.tree_size if latest else leaf.leaf_index + 1)
    if leaf.leaf_index >= size:
        raise BadInput(f"tree_size: event {seq} is leaf {leaf.leaf_index}, not in a tree of "
                       f"{size} leaves", "tree_size")
    proof = inclusion_proof(DbNodeStore(), leaf.leaf_index, size)
    return jsonify(leaf_index=leaf.leaf_index, tree_size=size, leaf_hash=b64(leaf.leaf_hash),
                   proof=[b64(p) for p in proof])


@bp.get("/audit/consistency")
def audit_consistency_proof():
    """RFC 9162 proof that the tree of ``second`` leaves extends the tree of ``first``."""
    first = _size_arg("first", required=True)
    second = _size_arg("second", required=True)
    if first > second:
        raise BadInput("first: must not be larger than second", "first")
    proof = consistency_proof(DbNodeStore(), first, second)
    return jsonify(first=first, second=second, proof=[b64(p) for p in proof])
