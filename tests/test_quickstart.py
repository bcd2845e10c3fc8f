import json

from zoo.cli import main


def test_quickstart_trains_and_scores_every_family(tmp_path, capsys):
    assert main(["quickstart", "--steps", "20", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert [r["family"] for r in results] == ["vit", "vae", "bert", "transformer"]
    by_family = {r["family"]: r["scores"] for r in results}
    assert 0.0 <= by_family["vit"]["accuracy"] <= 1.0
    assert by_family["vae"]["negative_elbo_nats"] > 0
    assert 0.0 <= by_family["bert"]["macro_f1"] <= 1.0
    assert 0.0 <= by_family["transformer"]["bleu"] <= 100.0
    assert "nrefs:1" in results[-1]["bleu_signature"]
    out = capsys.readouterr().out
    assert "wrote" in out and "accuracy=" in out
    assert not list(tmp_path.glob(".tmp-*"))  # the results file was written atomically
