"""The tamper-evident audit log: the event writer, the Merkle tree, its sequencer, proofs
and `hub audit`. It knows nothing of the pages built on it (hub/dpo)."""
