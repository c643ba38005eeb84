"""The Python module against the command line: the same inputs give the same JSON."""
import json
import os
import subprocess
import threading

import pytest

import splitsim

ROOT = os.environ["SPLITSIM_SOURCE_ROOT"]
CLI = os.environ["SPLITSIM"]


def path(*parts):
    return os.path.join(ROOT, *parts)


TINY = path("models", "gpt-tiny.json")
CPU = path("topologies", "localhost-cpu-4ranks.json")
TP2DP2 = path("plans", "tiny-tp2-dp2.json")
PP4 = path("plans", "tiny-pp4-1f1b.json")


def cli_json(*args):
    out = subprocess.run([CLI, *args, "--format", "json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def test_version_is_the_projects():
    assert splitsim.__version__ == subprocess.run([CLI, "--version"], capture_output=True, text=True, check=True).stdout.split()[1]


@pytest.mark.parametrize("tier", ["analytical", "event"])
def test_simulate_returns_the_cli_json(tier):
    result = splitsim.simulate(TINY, CPU, TP2DP2, tier=tier)
    assert result == cli_json("simulate", "--model", TINY, "--cluster", CPU, "--plan", TP2DP2, "--tier", tier)
    assert result["iteration_time_s"] > 0
    assert result["memory"]["stages"][0]["total"] > 0


def test_dicts_and_files_are_the_same_input():
    with open(TINY) as f:
        model = json.load(f)
    with open(TP2DP2) as f:
        plan = json.load(f)
    with open(CPU) as f:
        cluster = json.load(f)
    with open(path("topologies", "devices", cluster["device"] + ".json")) as f:
        cluster["device"] = json.load(f)  # the device inline
    from_dicts = splitsim.simulate(model, cluster, plan, tier="analytical")
    from_files = splitsim.simulate(TINY, CPU, TP2DP2, tier="analytical")
    assert from_dicts["iteration_time_s"] == from_files["iteration_time_s"]
    assert from_dicts["memory"] == from_files["memory"]


def test_hugging_face_config_by_file_and_by_dict():
    hf = path("models", "hf", "llama-3-8b.json")
    h100 = path("topologies", "dgx-h100-superpod.json")
    plan = path("plans", "llama3-8b-8gpu.json")
    by_file = splitsim.simulate("hf:" + hf, h100, plan, nodes=1, tier="analytical")
    with open(hf) as f:
        by_dict = splitsim.simulate(json.load(f), h100, plan, nodes=1, tier="analytical")
    assert by_file["iteration_time_s"] == by_dict["iteration_time_s"]
    assert by_file == cli_json("simulate", "--model", "hf:" + hf, "--cluster", h100, "--nodes", "1", "--plan", plan, "--tier", "analytical")


def test_input_errors_carry_file_and_json_pointer():
    with pytest.raises(splitsim.InputError) as error:
        splitsim.simulate(TINY, CPU, {"tp": 7, "pp": 1, "micro_batch": 1, "global_batch": 8})
    assert error.value.file == "plan"
    assert error.value.pointer == "/tp"
    assert error.value.detail == "7 does not divide heads (4)"
    assert str(error.value) == "plan: /tp: 7 does not divide heads (4)"
    assert isinstance(error.value, ValueError)
    with pytest.raises(splitsim.InputError) as error:
        splitsim.simulate({"model_type": "llama", "qk_norm": True}, CPU, TP2DP2)
    assert error.value.pointer == "/hidden_size"  # the first key the reader needs


def test_compare_returns_the_cli_json_and_a_table():
    result = splitsim.compare(TINY, CPU, [TP2DP2, PP4], tier="analytical")
    plans_file = path("build-python-test-plans.json")
    try:
        with open(TP2DP2) as a, open(PP4) as b, open(plans_file, "w") as out:
            json.dump([json.load(a), json.load(b)], out)
        assert result == cli_json("compare", "--model", TINY, "--cluster", CPU, "--plans", plans_file, "--tier", "analytical")
    finally:
        os.remove(plans_file)
    table = splitsim.table(result)
    assert list(table["name"]) == [p["name"] for p in result["plans"]]
    assert len(table) == 2


def test_search_ranks_as_the_cli_does_and_reports_progress():
    calls = []
    result = splitsim.search(TINY, CPU, 8, top=5, precision="fp32", threads=2, progress=lambda done, total: calls.append((done, total)))
    cli = cli_json("search", "--model", TINY, "--cluster", CPU, "--global-batch", "8", "--top", "5", "--precision", "fp32", "--threads", "2")
    del result["run"], cli["run"]  # wall times
    assert result == cli
    assert calls and calls[-1][0] == calls[-1][1] == result["enumerated"]
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))
    times = list(splitsim.table(result)["iteration_time_s"])
    assert len(times) == 5


def test_long_calls_release_the_gil():
    # A Python thread keeps running while search runs: it could not if search held the GIL.
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(1)
            stop.wait(0.001)

    t = threading.Thread(target=tick)
    t.start()
    before = len(ticks)
    splitsim.search(path("models", "llama2-7b.json"), path("topologies", "dgx-a100-superpod.json"), 512, nodes=4, top=1, rerank=1, threads=1)
    during = len(ticks) - before
    stop.set()
    t.join()
    assert during > 10


def test_export_is_the_cli_text():
    result = splitsim.export(TP2DP2, path("models", "llama2-7b.json"), CPU, to="deepspeed")
    cli = subprocess.run([CLI, "export", "--model", path("models", "llama2-7b.json"), "--plan", TP2DP2, "--to", "deepspeed"],
                         check=True, capture_output=True, text=True).stdout
    assert result["framework"] == "deepspeed"
    assert result["text"] == cli


def test_calibrate_fits_published_data_and_its_cluster_simulates(tmp_path):
    measurements = [path("validate", "published", "korthikanti-2022-layer-times.json"), path("validate", "published", "nccl-busbw.json")]
    a100 = path("topologies", "dgx-a100-superpod.json")
    result = splitsim.calibrate(measurements, a100)
    out = tmp_path / "calibrated.json"
    cli = cli_json("calibrate", "--measurements", measurements[0], "--measurements", measurements[1], "--cluster", a100, "--out", str(out))
    del cli["calibrated_cluster"]
    profile = result.pop("calibrated_cluster")
    assert result == cli
    assert profile == json.loads(out.read_text())
    assert result["layer_median_error_after"] <= result["layer_median_error_before"]
    calibrated = splitsim.simulate(path("models", "gpt3-175b.json"), profile, path("plans", "gpt3-175b-1024gpu.json"), nodes=128, tier="analytical")
    assert calibrated["iteration_time_s"] > 0


def test_collective_is_the_cli_sweep():
    a100 = path("topologies", "dgx-a100-superpod.json")
    result = splitsim.collective(a100, op="allgather", ranks=16, min_bytes=1024, max_bytes=2**30, factor=4)
    assert result == cli_json("collective", "--cluster", a100, "--op", "allgather", "--ranks", "16", "--min", "1K", "--max", "1G", "--factor", "4")
    assert result["nodes"] == 2
    assert [r["bytes"] for r in result["rows"]] == [1024 * 4**i for i in range(11)]
    with pytest.raises(splitsim.InputError) as error:
        splitsim.collective(a100, op="allreduce", ranks=12, nodes=8)
    assert error.value.pointer == "--ranks"
