"""Routing: best trade, then nearest place, then the least loaded; never above capacity."""

from __future__ import annotations

from datetime import datetime

from mailflow.route import Candidate, Want, choose


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
