"""tools/bench/gen.py: seed aggregation, the acceptance rule on seed means, and the like-for-like torchcfm loss."""

import argparse
import importlib.util
import pathlib

import numpy as np
import pytest
import torch

_path = pathlib.Path(__file__).resolve().parents[3] / "tools" / "bench" / "gen.py"
_spec = importlib.util.spec_from_file_location("_gen_bench", _path)
G = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(G)


def _toy(ours, theirs):
    keys = ("w2_1", "w2_2", "w2_10", "w2_adaptive")
    return {
        "ot_cfm": G.aggregate([dict(zip(keys, row, strict=True)) for row in ours]),
        "torchcfm_ot": G.aggregate([dict(zip(keys, row, strict=True)) for row in theirs]),
    }


def test_aggregate_is_mean_sample_std_and_per_seed_values():
    rows = [{"w2_1": 1.0, "nfe": 50}, {"w2_1": 2.0, "nfe": 56}, {"w2_1": 4.0, "nfe": 62}]
    agg = G.aggregate(rows)
    assert agg["w2_1"] == pytest.approx(7 / 3)
    assert agg["w2_1_std"] == pytest.approx(float(np.std([1.0, 2.0, 4.0], ddof=1)))
    assert agg["w2_1_seeds"] == [1.0, 2.0, 4.0]
    assert agg["nfe"] == pytest.approx(56) and agg["nfe_std"] == pytest.approx(6)
    assert G.aggregate([{"w2_1": 0.5}])["w2_1_std"] == 0.0


def test_compare_judges_on_seed_means_not_on_single_seeds():
    # ours loses on seed 0 in every column but wins on the mean: holds; the paired differences are reported
    ours = [(0.31, 0.26, 0.22, 0.21), (0.27, 0.23, 0.20, 0.19), (0.28, 0.24, 0.21, 0.20)]
    theirs = [(0.30, 0.25, 0.21, 0.20), (0.30, 0.25, 0.22, 0.21), (0.30, 0.25, 0.22, 0.21)]
    c = G.compare(_toy(ours, theirs), "ot_cfm", "torchcfm_ot")
    assert all(c[k]["holds"] for k in G.W2_KEYS)
    assert c["w2_1"]["diff_mean"] == pytest.approx(np.mean([0.01, -0.03, -0.02]))
    assert c["w2_1"]["diff_std"] == pytest.approx(np.std([0.01, -0.03, -0.02], ddof=1))
    assert c["w2_1"]["ratio_of_means"] == pytest.approx(0.86 / 0.90)
    assert c["w2_1"]["diff_se"] == pytest.approx(c["w2_1"]["diff_std"] / np.sqrt(3))
    # behind on the mean of one column only: that column fails
    theirs[0] = (0.30, 0.25, 0.21, 0.10)
    c = G.compare(_toy(ours, theirs), "ot_cfm", "torchcfm_ot")
    assert [c[k]["holds"] for k in G.W2_KEYS] == [True, True, True, False]
    # behind by +0.027 +- 0.072 (se 0.042): within noise; behind on every seed by the same 0.01: not
    assert c["w2_adaptive"]["diff_mean"] == pytest.approx(0.08 / 3) and c["w2_adaptive"]["within_noise"]
    theirs = [(r[0], r[1], r[2], r[3] - 0.01) for r in ours]
    c = G.compare(_toy(ours, theirs), "ot_cfm", "torchcfm_ot")
    assert not c["w2_adaptive"]["holds"] and not c["w2_adaptive"]["within_noise"]


def test_acceptance_items():
    toy = _toy([(0.5, 0.4, 0.3, 0.3)], [(0.6, 0.4, 0.3, 0.3)])
    toy["rectified"] = {"w2_1": 0.45}
    acc = G.acceptance(toy, 0.25, {"cfm_cond": {"acc_50": 0.95}, "ddim": {"acc_50": 0.91}})
    assert acc["best_one_step"]["method"] == "rectified"
    assert acc["best_one_step"]["over_floor"] == pytest.approx(1.8) and acc["best_one_step"]["holds"]
    assert acc["vs_torchcfm_holds"] and acc["digits_acc_50_holds"]
    acc = G.acceptance(toy, 0.2, {"cfm_cond": {"acc_50": 0.89}})
    assert not acc["best_one_step"]["holds"] and not acc["digits_acc_50_holds"]


@pytest.mark.parametrize("text", ["", "a,b", "1,1", " , "])
def test_parse_seeds_rejects_bad_lists(text):
    with pytest.raises(argparse.ArgumentTypeError, match="--seeds"):
        G.parse_seeds(text)


def test_parse_seeds():
    assert G.parse_seeds("0, 1,2") == [0, 1, 2]


def test_torchcfm_loss_is_remodel_cfm_loss_bit_for_bit():
    """The like-for-like claim of the benchmark: torchcfm's ConditionalFlowMatcher inside the bench's loop
    sees the same x0, t and x1 as REMODEL's I-CFM loss, so both losses (and gradients) are identical."""
    pytest.importorskip("torchcfm")
    from remodel_gen import FlowMatching, MLPField, eight_gaussians, two_moons

    torch.manual_seed(0)
    field = MLPField(2, width=16, depth=2)
    x1 = two_moons(64, torch.Generator().manual_seed(1))
    theirs = G.torchcfm_problem("cfm", field, x1, seed=3).loss
    ours = FlowMatching(network=field).loss_fn((2,), lambda: G.noise_generator(3, 0), source=eight_gaussians)
    a, b = theirs(field, x1), ours(field, x1)
    assert torch.equal(a, b)
    # the next evaluation draws new noise (the counter advances), so the losses then differ
    assert not torch.equal(theirs(field, x1), b)


def _doc(seeds, toy, floors, **args):
    base = {"seeds": seeds, "iters": 5000, "lr": 5e-3, "pool": 20_000, "eval": 1000, "quick": False, **args}
    return {"toy": toy, "w2_floor_seeds": floors, "w2_floor": float(np.mean(floors)), "meta": {"args": base}}


def _row(v):
    return {"w2_1": v, "w2_2": v / 2, "w2_10": v / 4, "w2_adaptive": v / 8, "nfe_adaptive": 50}


def test_merge_runs_combines_old_single_seed_and_new_multi_seed_outputs():
    old = {
        "toy": {"ot_cfm": _row(0.3), "torchcfm_ot": _row(0.31)},
        "w2_floor": 0.26,
        "digits": {"cfm_cond": {"acc_50": 0.97}},
        "meta": {"args": {"seed": 0, "iters": 5000, "lr": 5e-3, "pool": 20_000, "eval": 1000, "quick": False}},
    }
    new_toy = {m: G.aggregate([_row(v), _row(v + 0.1)]) for m, v in (("ot_cfm", 0.2), ("torchcfm_ot", 0.25))}
    new = _doc([1, 2], new_toy, [0.14, 0.2])
    per_seed, floors, digits_res, _, runs = G.merge_runs([old, new])
    assert floors == {0: [0.26], 1: [0.14], 2: [0.2]} and digits_res == old["digits"]
    assert per_seed["ot_cfm"][0]["w2_1"] == 0.3 and per_seed["ot_cfm"][2]["w2_1"] == pytest.approx(0.3)
    toy, floor = G.summarise(per_seed, floors)
    assert toy["ot_cfm"]["seeds"] == [0, 1, 2] and toy["ot_cfm"]["w2_1"] == pytest.approx(0.8 / 3)
    assert floor["w2_floor"] == pytest.approx(0.2)
    c = G.compare(toy, "ot_cfm", "torchcfm_ot")
    assert c["w2_1"]["ratio_of_means"] == pytest.approx(0.8 / 0.91)
    assert [r["seeds"] for r in runs] == [[0], [1, 2]]


def test_merge_runs_refuses_duplicates_and_other_configurations():
    toy = {"ot_cfm": G.aggregate([_row(0.2)])}
    with pytest.raises(ValueError, match="seed 1 appears in two runs"):
        G.merge_runs([_doc([1], toy, [0.1]), _doc([1], toy, [0.1])])
    with pytest.raises(ValueError, match="configurations differ"):
        G.merge_runs([_doc([1], toy, [0.1]), _doc([2], toy, [0.1], iters=300)])
    with pytest.raises(ValueError, match="different seeds"):
        G.compare({"a": {**toy["ot_cfm"], "seeds": [0]}, "b": {**toy["ot_cfm"], "seeds": [1]}}, "a", "b")


def test_target_floor_is_k_independent_pairs_and_k1_is_the_single_draw():
    from remodel_gen import two_moons, wasserstein2

    n, seed = 64, 5
    single = wasserstein2(
        two_moons(n, torch.Generator().manual_seed(seed + 3000)),
        two_moons(n, torch.Generator().manual_seed(seed + 4000)),
    )
    assert G.target_floor(n, seed, 1) == [single]
    vals = G.target_floor(n, seed, 3)
    assert vals[0] == single and len(set(vals)) == 3  # pair 0 is the old draw; the others are new draws
    k2 = wasserstein2(
        two_moons(n, torch.Generator().manual_seed(seed + 200_000 + 3000)),
        two_moons(n, torch.Generator().manual_seed(seed + 200_000 + 4000)),
    )
    assert vals[2] == k2
    # a seed's floor is the mean of its K pairs; the JSON keeps the pairs and their std
    _, floor = G.summarise({}, {0: vals, 1: [0.1, 0.3]})
    assert floor["w2_floor_seeds"] == [pytest.approx(np.mean(vals)), pytest.approx(0.2)]
    assert floor["w2_floor"] == pytest.approx((np.mean(vals) + 0.2) / 2)
    assert floor["w2_floor_pairs"] == [vals, [0.1, 0.3]]
    assert floor["w2_floor_pair_std_seeds"][1] == pytest.approx(np.std([0.1, 0.3], ddof=1))


@pytest.mark.parametrize("pairs", [0, -1, 1.5, True, "8"])
def test_target_floor_refuses_bad_pair_counts(pairs):
    with pytest.raises(ValueError, match="pairs"):
        G.target_floor(16, 0, pairs)


@pytest.mark.parametrize("text", ["0", "-3", "two", "1.5"])
def test_floor_pairs_option_refuses_bad_values(text, monkeypatch, capsys):
    with pytest.raises(argparse.ArgumentTypeError, match="--floor-pairs"):
        G.positive_int(text)
    monkeypatch.setattr("sys.argv", ["gen.py", "--floor-pairs", text])
    with pytest.raises(SystemExit):
        G.main()
    assert "--floor-pairs" in capsys.readouterr().err


def test_merge_runs_takes_the_digits_of_a_digits_only_run_and_nothing_else():
    toy = {"ot_cfm": G.aggregate([_row(0.2), _row(0.3)])}
    toy_run = _doc([0, 1], toy, [0.1, 0.2])
    # a digits-only run (--toy-methods ""): no toy rows, floor NaN, other toy settings, two seeds
    digits_run = {
        **_doc([0, 1], {}, [0.3], iters=300),
        "w2_floor": float("nan"),
        "digits": {"cfm_cond": {"acc_50": 0.97}},
    }
    digits_run.pop("w2_floor_seeds", None)
    digits_run.pop("w2_floor_pairs", None)
    per_seed, floors, digits_res, _, runs = G.merge_runs([toy_run, digits_run])
    assert floors == {0: [0.1], 1: [0.2]} and digits_res == {"cfm_cond": {"acc_50": 0.97}}
    assert list(per_seed) == ["ot_cfm"] and len(runs) == 2


def test_merge_runs_keeps_per_pair_floors_and_refuses_other_pair_counts():
    toy = {"ot_cfm": G.aggregate([_row(0.2)])}
    new = {**_doc([1], toy, [0.2], floor_pairs=2), "w2_floor_pairs": [[0.1, 0.3]]}
    _, floors, *_ = G.merge_runs([new])
    assert floors == {1: [0.1, 0.3]}
    # runs before --floor-pairs had one pair: merging them with a K = 2 run mixes two floors
    with pytest.raises(ValueError, match="configurations differ"):
        G.merge_runs([_doc([0], toy, [0.1]), new])
    with pytest.raises(ValueError, match="two different floors"):
        other = {"cfm": G.aggregate([_row(0.5)])}  # another method on the same seed: its floor must be the same
        G.merge_runs([new, {**_doc([1], other, [0.2], floor_pairs=2), "w2_floor_pairs": [[0.1, 0.4]]}])
