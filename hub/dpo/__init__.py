"""The DPO's console: alerts and anomaly rules, exports, subject rights, retention, dashboard.

DPOs see the audit log and record metadata, never case content; the one exception is the
subject access bundle, whose purpose is to hand a person their own data.
"""
