"""Routing: best trade, the kind asked for within it, then nearest place, then the least loaded;
never above capacity."""

from __future__ import annotations

from datetime import datetime

from mailflow.core.route import Candidate, Want, choose


def cand(
    id: int,
    code: str | None = "D1102",
    dept: str = "14",
    region: str | None = "28",
    open_: int = 0,
    capacity: int = 2,
    last: datetime | None = None,
    kind: str = "metier",
    title: str = "boulanger",
    insee: str | None = None,
    active: bool = True,
) -> Candidate:
    return Candidate(id, kind, code, title, dept, region, insee, capacity, open_, last, active)


BAKER_CAEN = Want("metier", "D1102", "boulangere", "14", "28", "14118")


def test_same_trade_beats_nearer_same_domain() -> None:
    pastry_caen = cand(1, code="D1104", insee="14118")
    baker_rouen = cand(2, dept="76", region="28")
    assert choose(BAKER_CAEN, [pastry_caen, baker_rouen]).candidate.id == 2


def test_same_domain_when_no_same_trade() -> None:
    choice = choose(
        BAKER_CAEN, [cand(1, code="D1104", dept="75", region="11"), cand(2, code="J1501")]
    )
    assert choice.candidate.id == 1 and choice.trade_tier == 1


def test_place_order_commune_department_region_anywhere() -> None:
    anywhere = cand(1, dept="13", region="93")
    region = cand(2, dept="76", region="28")
    department = cand(3, dept="14")
    commune = cand(4, insee="14118")
    pool = [anywhere, region, department, commune]
    order = []
    while pool:
        chosen = choose(BAKER_CAEN, pool).candidate
        order.append(chosen.id)
        pool = [c for c in pool if c.id != chosen.id]
    assert order == [4, 3, 2, 1]


def test_never_above_capacity_nor_inactive() -> None:
    full = cand(1, open_=2, capacity=2)
    paused = cand(2, active=False)
    zero = cand(3, capacity=0)
    assert choose(BAKER_CAEN, [full, paused, zero]) is None


def test_spreads_load_then_least_recently_contacted() -> None:
    busy = cand(1, open_=1)
    idle_recent = cand(2, last=datetime(2026, 11, 20))
    idle_old = cand(3, last=datetime(2026, 10, 1))
    assert choose(BAKER_CAEN, [busy, idle_recent, idle_old]).candidate.id == 3
    never = cand(4)
    assert choose(BAKER_CAEN, [busy, idle_recent, idle_old, never]).candidate.id == 4


def test_title_match_without_rome_code() -> None:
    want = Want("formation", None, "BTS Fluides énergies domotique", "27", "28", None)
    trainee = cand(5, code=None, title="bts fluides energies domotique", kind="formation")
    assert choose(want, [cand(1), trainee]).candidate.id == 5


def test_no_match_for_other_trade_and_exclusion() -> None:
    assert choose(BAKER_CAEN, [cand(1, code="J1501")]) is None
    assert choose(BAKER_CAEN, [cand(1)], exclude=frozenset({1})) is None


def test_training_speciality_matches_longer_title() -> None:
    want = Want("formation", None, "Fluides énergies", "14", "28", None)
    trainee = cand(6, code=None, title="bts fluides energies domotique", kind="formation")
    other = cand(7, code=None, title="bts energies renouvelables", kind="formation")
    assert choose(want, [other, trainee]).candidate.id == 6
    assert choose(Want("formation", None, "de la", None, None, None), [trainee]) is None


# The kind asked for ranks within a trade tier: above place, below trade.
NURSE_AID_VAE_CAEN = Want("vae", "J1501", "aide soignante", "14", "28", "14118")
NURSE_AID = {"code": "J1501", "title": "aide soignante"}


def test_vae_request_prefers_vae_graduate_of_the_same_trade_over_a_nearer_professional() -> None:
    professional_same_commune = cand(1, **NURSE_AID, insee="14118", kind="metier")
    vae_same_department = cand(2, **NURSE_AID, dept="14", kind="vae")
    choice = choose(NURSE_AID_VAE_CAEN, [professional_same_commune, vae_same_department])
    assert choice.candidate.id == 2 and choice.same_kind
    assert choice.why == "same trade, same département, 0 open"
    # even in another region: the kind comes before the place
    vae_far = cand(3, **NURSE_AID, dept="13", region="93", kind="vae")
    assert choose(NURSE_AID_VAE_CAEN, [professional_same_commune, vae_far]).candidate.id == 3


def test_training_request_prefers_someone_trained_that_way() -> None:
    want = Want("formation", "D1104", "cap patissier", "14", "28", "14118")
    pastry_cook_here = cand(1, code="D1104", title="patissier", insee="14118")
    cap_graduate_region = cand(2, code="D1104", title="cap patissier", dept="76", kind="formation")
    assert choose(want, [pastry_cook_here, cap_graduate_region]).candidate.id == 2


def test_kind_never_outranks_the_trade() -> None:
    """A VAE graduate of the same ROME domain only comes after every professional of the
    same trade, wherever they are."""
    vae_domain_commune = cand(1, code="J1502", title="auxiliaire", insee="14118", kind="vae")
    professional_trade_far = cand(2, **NURSE_AID, dept="13", region="93")
    choice = choose(NURSE_AID_VAE_CAEN, [vae_domain_commune, professional_trade_far])
    assert choice.candidate.id == 2 and choice.trade_tier == 0 and not choice.same_kind
    assert choice.why == "same trade (kind metier), another region, 0 open"


def test_other_kind_when_nobody_of_that_kind_is_free() -> None:
    vae_full = cand(1, **NURSE_AID, kind="vae", open_=2, capacity=2)
    professional = cand(2, **NURSE_AID, dept="50")
    choice = choose(NURSE_AID_VAE_CAEN, [vae_full, professional])
    assert choice.candidate.id == 2 and not choice.same_kind


def test_within_a_kind_place_then_load_still_decide() -> None:
    vae_region = cand(1, **NURSE_AID, dept="76", kind="vae")
    vae_commune_busy = cand(2, **NURSE_AID, insee="14118", kind="vae", open_=1)
    vae_commune_free = cand(3, **NURSE_AID, insee="14118", kind="vae")
    pool = [vae_region, vae_commune_busy, vae_commune_free]
    assert choose(NURSE_AID_VAE_CAEN, pool).candidate.id == 3
    assert choose(NURSE_AID_VAE_CAEN, pool[:2]).candidate.id == 2


def test_no_kind_asked_leaves_place_first() -> None:
    want = Want(None, "J1501", None, "14", "28", "14118")
    professional_here = cand(1, **NURSE_AID, insee="14118")
    vae_department = cand(2, **NURSE_AID, kind="vae")
    choice = choose(want, [vae_department, professional_here])
    assert choice.candidate.id == 1 and choice.same_kind
