"""Signals that let one package react to another without importing it (blinker, as Flask
uses). The audit log and the case record know nothing of the DPO console; the console
subscribes here when the app is built (hub.dpo.connect)."""

from blinker import Namespace

_signals = Namespace()

#: sent by the audit sequencer after it commits a batch of events into the tree
batch_integrated = _signals.signal("audit-batch-integrated")

#: sent by a break-glass grant, inside its transaction, with ``grant`` and ``event``:
#: a receiver that raises stops the grant (no emergency access without its alert)
break_glass_granted = _signals.signal("break-glass-granted")
