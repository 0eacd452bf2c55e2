"""Tamper-evident audit log: RFC 6962 Merkle trees, proofs and signed checkpoints.

This package deliberately imports neither Flask nor SQLAlchemy, so that an auditor can
verify an exported log (``python -m audit verify ...``) without running the hub.
"""

from .canonical import CanonicalizationError, RecordEncoder, canonical_bytes
from .merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MemoryNodeStore,
    MissingNodeError,
    NodeKey,
    NodeStore,
    TreeBuilder,
    append_leaves,
    leaf_hash,
    node_hash,
    perfect_subtrees,
    root_at,
    root_of,
)
from .note import (
    Checkpoint,
    NoteError,
    Signer,
    key_hash,
    load_signer,
    open_checkpoint,
    parse_verifier_key,
    sign_checkpoint,
    verifier_key,
)
from .proofs import (
    ProofError,
    consistency_proof,
    inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from .verify import LEAF_META_KEYS, CompactRange, VerifyReport, event_leaf_hash, verify_log

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_META_KEYS",
    "CanonicalizationError",
    "Checkpoint",
    "CompactRange",
    "MemoryNodeStore",
    "MissingNodeError",
    "NodeKey",
    "NodeStore",
    "NoteError",
    "ProofError",
    "RecordEncoder",
    "Signer",
    "TreeBuilder",
    "VerifyReport",
    "append_leaves",
    "canonical_bytes",
    "consistency_proof",
    "event_leaf_hash",
    "inclusion_proof",
    "key_hash",
    "leaf_hash",
    "load_signer",
    "node_hash",
    "open_checkpoint",
    "parse_verifier_key",
    "perfect_subtrees",
    "root_at",
    "root_of",
    "sign_checkpoint",
    "verifier_key",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
]
