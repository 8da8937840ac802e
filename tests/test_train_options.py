"""``chainrule train --dropout --norm --residual``: the network they build, and their bad values."""

from chainrule.cli import main


def test_the_options_build_the_network(tmp_path, capsys):
    argv = ["train", "xor", "--layers", "6,6", "--dropout", "0.1", "--norm", "layer", "--residual", "--epochs", "5",
            "--quiet", "--no-plots", "--out", str(tmp_path / "run")]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Residual(Dense(6, 6), Tanh(), LayerNorm(6), Dropout(0.1))" in out


def test_a_dropout_rate_of_one_is_refused_in_one_line(tmp_path, capsys):
    argv = ["train", "xor", "--dropout", "1", "--quiet", "--no-plots", "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--dropout must be in [0, 1); received 1.0" in err
    assert not (tmp_path / "run").exists()


def test_norm_takes_only_its_choices(tmp_path, capsys):
    assert main(["train", "xor", "--norm", "group", "--out", str(tmp_path / "run")]) == 2
    assert "invalid choice: 'group'" in capsys.readouterr().err
