"""The checkpoint and proof routes, checked the way an outside verifier would: with the
audit package's RFC 9162 verifiers and the published public key, nothing else."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import func, select

from audit import open_checkpoint, verify_consistency, verify_inclusion
from hub.auditlog import sequencer
from hub.auditlog.models import AuditEvent
from tests.support.apps import demo_case_ids


def b(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def view_and_sequence(api, session, username="nhs.clinician") -> int:
    """View a case (which records an event), integrate, return that event's seq."""
    case_id = next(iter(demo_case_ids(session).values()))
    assert api(username).get(f"/cases/{case_id}").status_code == 200
    seq = session.scalar(select(func.max(AuditEvent.seq)))
    sequencer.run_once()
    return seq


def checkpoint(api) -> dict:
    response = api("advocate").get("/audit/checkpoint")
    assert response.status_code == 200
    return response.get_json()


def test_checkpoint_is_signed_by_the_published_key(app, api, session):
    view_and_sequence(api, session)
    body = checkpoint(api)
    cp = open_checkpoint(body["note"], b(body["public_key"]), app.config["HUB_AUDIT_ORIGIN"])
    assert (cp.size, cp.root_hash) == (body["tree_size"], b(body["root_hash"]))


def test_inclusion_proof_of_a_case_view(api, session):
    seq = view_and_sequence(api, session)
    body = checkpoint(api)
    response = api("police.officer").get(f"/audit/events/{seq}/proof")
    assert response.status_code == 200
    proof = response.get_json()
    assert proof["tree_size"] == body["tree_size"]
    verify_inclusion(b(proof["leaf_hash"]), proof["leaf_index"], proof["tree_size"],
                     [b(p) for p in proof["proof"]], b(body["root_hash"]))


def test_consistency_between_two_checkpoints(api, session):
    view_and_sequence(api, session)
    first = checkpoint(api)
    view_and_sequence(api, session)
    second = checkpoint(api)
    assert second["tree_size"] > first["tree_size"]
    response = api("cps.prosecutor").get(
        f"/audit/consistency?first={first['tree_size']}&second={second['tree_size']}")
    assert response.status_code == 200
    verify_consistency(first["tree_size"], second["tree_size"], b(first["root_hash"]),
                       b(second["root_hash"]), [b(p) for p in response.get_json()["proof"]])


def test_a_proof_at_an_older_size_verifies_against_that_size(api, session):
    seq = view_and_sequence(api, session)
    first = checkpoint(api)
    view_and_sequence(api, session)
    proof = api("advocate").get(
        f"/audit/events/{seq}/proof?tree_size={first['tree_size']}").get_json()
    verify_inclusion(b(proof["leaf_hash"]), proof["leaf_index"], first["tree_size"],
                     [b(p) for p in proof["proof"]], b(first["root_hash"]))


@pytest.mark.parametrize("query", ["tree_size=abc", "tree_size=0", "tree_size=-1",
                                   "tree_size=1.5", "tree_size=99999999999999999999999",
                                   "tree_size=%EF%BC%91", "tree_size=999999999"])
def test_bad_tree_size_is_400(api, session, query):
    seq = view_and_sequence(api, session)
    response = api("advocate").get(f"/audit/events/{seq}/proof?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "tree_size"


def test_a_tree_too_small_for_the_event_is_400(api, session):
    view_and_sequence(api, session)
    seq = view_and_sequence(api, session)
    response = api("advocate").get(f"/audit/events/{seq}/proof?tree_size=1")
    assert response.status_code == 400
    assert "not in a tree of 1 leaves" in response.get_json()["error"]["message"]


def test_unknown_or_not_yet_integrated_event_is_404(api, session):
    view_and_sequence(api, session)
    assert api("advocate").get("/audit/events/2000000000/proof").status_code == 404
    assert api("advocate").get("/cases/1").status_code in (200, 404)  # records an event
    pending = session.scalar(select(func.max(AuditEvent.seq)))
    assert api("advocate").get(f"/audit/events/{pending}/proof").status_code == 404


@pytest.mark.parametrize("query,field", [("", "first"), ("first=1", "second"),
                                         ("first=x&second=2", "first"),
                                         ("first=0&second=2", "first"),
                                         ("first=3&second=2", "first"),
                                         ("first=1&second=999999999", "second")])
def test_bad_consistency_sizes_are_400(api, session, query, field):
    view_and_sequence(api, session)
    response = api("advocate").get(f"/audit/consistency?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field


@pytest.mark.parametrize("path", ["/audit/checkpoint", "/audit/events/1/proof",
                                  "/audit/consistency?first=1&second=1"])
def test_proof_routes_need_a_token(api, session, path):
    assert api(None).get(path).status_code == 401


def test_proof_routes_are_described_in_openapi(api, session):
    paths = api(None).get("/openapi.json").get_json()["paths"]
    for path in ("/audit/checkpoint", "/audit/events/{seq}/proof", "/audit/consistency"):
        assert "get" in paths[path]
