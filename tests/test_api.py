"""The public surface: __all__, names, and an import that needs NumPy alone."""

import subprocess
import sys

import pytest

import chainrule as cr


def test_every_name_in_all_exists():
    missing = [name for name in cr.__all__ if not hasattr(cr, name)]
    assert not missing, f"in __all__ but not defined: {missing}"


def test_all_is_sorted_and_unique():
    names = [n for n in cr.__all__ if n != "__version__"]
    assert len(set(cr.__all__)) == len(cr.__all__)
    assert names == sorted(names), "keep __all__ sorted"


def test_public_classes_and_functions_are_exported():
    public = {
        name
        for name, obj in vars(cr).items()
        if not name.startswith("_") and (isinstance(obj, type) or callable(obj)) and getattr(obj, "__module__", "")
    }
    public = {n for n in public if getattr(cr, n).__module__.startswith("chainrule")}
    assert public <= set(cr.__all__), f"public but not in __all__: {sorted(public - set(cr.__all__))}"


def test_version_is_a_string():
    assert isinstance(cr.__version__, str) and cr.__version__[0].isdigit()


def test_import_needs_numpy_alone():
    code = (
        "import sys; import chainrule; "
        "heavy = [m for m in ('torch', 'sklearn', 'matplotlib', 'scipy', 'pandas', 'tqdm') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "resolve, name, cls",
    [
        (cr.get_loss, "bce_logits", cr.BCEWithLogits),
        (cr.get_loss, "MSE", cr.MSE),
        (cr.get_loss, "cross-entropy", cr.SoftmaxCrossEntropy),
        (cr.get_optimizer, "rmsprop", cr.RMSProp),
        (cr.get_activation, "leaky_relu", cr.LeakyReLU),
        (cr.get_activation, "linear", cr.Identity),
    ],
)
def test_string_shortcuts_resolve(resolve, name, cls):
    assert isinstance(resolve(name), cls)


def test_non_string_names_are_type_errors():
    for resolve in (cr.get_loss, cr.get_optimizer, cr.get_activation, cr.get_initializer):
        with pytest.raises(TypeError, match="name"):
            resolve(3)
