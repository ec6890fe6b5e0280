"""Routing: best trade, the kind asked for within it, then nearest place, then the least loaded;
never above capacity."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from mailflow.config import PROJECT_ROOT
from mailflow.core.route import (
    ANY_STRETCH,
    DEFAULT_POLICY,
    Candidate,
    MatchingPolicy,
    Want,
    choose,
    load_matching_policy,
    quality,
    stretch_of,
)
from mailflow.errors import RulesError


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
        BAKER_CAEN, [cand(1, code="D1104", dept="76", region="28"), cand(2, code="J1501")]
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
    assert choice.why == "same trade (kind metier), another region, 0 open, stretched: kind+region"


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


# --- how far a match may stretch (rules/matching.toml) ------------------------------------

ELECTRICIAN_LILLE = Want("metier", "F1602", "electricien", "59", "32", "59350")


def test_default_never_crosses_trade_and_region_at_once() -> None:
    """The plumber in Bayeux (same ROME domain, another region) is no match for an
    electrician in Lille: unmet, not a silent success."""
    plumber_bayeux = cand(1, code="F1603", title="plombier", dept="14", region="28")
    assert choose(ELECTRICIAN_LILLE, [plumber_bayeux]) is None
    assert choose(ELECTRICIAN_LILLE, [plumber_bayeux], policy=ANY_STRETCH) is not None


def test_another_trade_nearby_is_a_stretch_told_as_such() -> None:
    plumber_lille = cand(1, code="F1603", title="plombier", dept="59", region="32")
    choice = choose(ELECTRICIAN_LILLE, [plumber_lille])
    assert choice.candidate.id == 1 and choice.stretched == ("trade",)
    assert quality(choice.stretched) == "stretched:trade"


def test_same_trade_in_another_region_is_allowed_and_stretched() -> None:
    electrician_caen = cand(1, code="F1602", title="electricien", dept="14", region="28")
    assert choose(ELECTRICIAN_LILLE, [electrician_caen]).stretched == ("region",)


def test_another_department_of_the_region_is_a_stretch() -> None:
    electrician_arras = cand(1, code="F1602", title="electricien", dept="62", region="32")
    assert choose(ELECTRICIAN_LILLE, [electrician_arras]).stretched == ("department",)


def test_exact_match_has_no_stretch() -> None:
    here = cand(1, code="F1602", title="electricien", dept="59", region="32")
    choice = choose(ELECTRICIAN_LILLE, [here])
    assert choice.stretched == () and quality(choice.stretched) == "exact"


def test_nursing_studies_are_not_met_by_a_vae_aide_soignante() -> None:
    """A 17-year-old asking about nursing (formation, J1506) and a VAE aide-soignante
    (J1501): another trade and another kind at once, refused by default."""
    want = Want("formation", "J1506", "infirmier", "50", "28", "50129")
    vae_aide = cand(1, code="J1501", title="aide soignant", dept="50", kind="vae")
    assert choose(want, [vae_aide]) is None
    assert stretch_of(want, vae_aide) == ("trade", "kind")


def test_cap_patisserie_is_not_met_by_a_baker() -> None:
    want = Want("formation", "D1104", "cap patissier", "14", "28", "14118")
    baker = cand(1, code="D1102", title="boulanger", insee="14118")
    assert choose(want, [baker]) is None
    pastry_cook = cand(2, code="D1104", title="patissier", insee="14118")
    assert choose(want, [baker, pastry_cook]).stretched == ("kind",)


def test_place_or_kind_not_asked_is_never_a_stretch() -> None:
    want = Want(None, "D1102", "boulanger", None, None, None)
    far = cand(1, dept="13", region="93", kind="vae")
    assert choose(want, [far]).stretched == ()


def test_a_policy_may_forbid_one_stretch_alone() -> None:
    policy = MatchingPolicy(allow=frozenset({"kind", "department"}), never=())
    electrician_caen = cand(1, code="F1602", title="electricien", dept="14", region="28")
    electrician_arras = cand(2, code="F1602", title="electricien", dept="62", region="32")
    assert choose(ELECTRICIAN_LILLE, [electrician_caen], policy=policy) is None
    assert (
        choose(ELECTRICIAN_LILLE, [electrician_caen, electrician_arras], policy=policy).candidate.id
        == 2
    )


def test_the_shipped_rules_are_the_default_policy() -> None:
    assert load_matching_policy(PROJECT_ROOT / "rules") == DEFAULT_POLICY


def test_an_unknown_stretch_in_the_rules_is_refused(tmp_path: Path) -> None:
    (tmp_path / "matching.toml").write_text(
        'never_together = [["trade", "planet"]]\n[allow]\ntrade = true\n', encoding="utf-8"
    )
    with pytest.raises(RulesError, match="planet"):
        load_matching_policy(tmp_path)


def test_a_close_trade_comes_before_the_rest_of_the_domain() -> None:
    """Issue 13, routing by closeness: nobody is an "infirmière scolaire" (J1511); a nurse
    (J1506, another département) is closer than the aide-soignante (J1501) next door, and
    the reason says so."""
    from tests.shared_rules import shared

    ref = shared(PROJECT_ROOT / "rules").referential
    close = ref.close_codes("J1511")
    assert "J1506" in close and "J1501" not in close and "J1511" not in close
    want = Want("metier", "J1511", "infirmiere scolaire", "14", "28", "14118", close)
    aide_caen = cand(1, code="J1501", title="aide soignante", insee="14118")
    nurse_rouen = cand(2, code="J1506", title="infirmier", dept="76")
    choice = choose(want, [aide_caen, nurse_rouen])
    assert choice.candidate.id == 2 and choice.close
    assert choice.why.startswith("close trade (same ROME family), same region")
    # Without the close codes (an older caller), the domain's nearest, as before.
    plain = Want("metier", "J1511", "infirmiere scolaire", "14", "28", "14118")
    assert choose(plain, [aide_caen, nurse_rouen]).candidate.id == 1
    assert choose(want, [aide_caen]).why.startswith("same ROME domain")


def test_the_rome_parent_comes_before_the_other_close_trades() -> None:
    """Issue 13: nobody is a game developer (M1831); the developer (M1805, its ROME parent)
    comes before the web developer (M1855, a sibling) even further away; an ATSEM (K1308)
    gets a garde d'enfant (K1303, its parent) before an AES (K1306) of the same domain."""
    from tests.shared_rules import shared

    ref = shared(PROJECT_ROOT / "rules").referential
    assert ref.near_codes("M1831") == {"M1805"} and "M1831" in ref.near_codes("M1805")
    assert "M1855" in ref.close_codes("M1831") and "M1855" not in ref.near_codes("M1831")
    for code, near, other in (("M1831", "M1805", "M1855"), ("K1308", "K1303", "K1306")):
        want = Want(
            "metier", code, None, "14", "28", "14118", ref.close_codes(code), ref.near_codes(code)
        )
        sibling_here = cand(1, code=other, title="x", insee="14118")
        parent_away = cand(2, code=near, title="y", dept="76")
        choice = choose(want, [sibling_here, parent_away])
        assert choice.candidate.id == 2 and choice.close, code
    # a code without parent nor child: nothing near
    assert ref.near_codes("") == frozenset()
