"""Models through the C ABI from Python: the round trip the other suites rely on."""
import numpy as np
import pytest

from mudsc import Model, MudscError


def test_model_round_trip_through_a_file(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {"fc1.weight": rng.standard_normal((4, 3)).astype(np.float32),
               "fc1.bias": rng.standard_normal(4),
               "bn.num_batches_tracked": np.array(7, dtype=np.int64)}
    with Model.from_numpy(tensors, copy=True) as m:
        m.save(tmp_path / "m.safetensors")
    with Model.load(tmp_path / "m.safetensors") as back:
        got = {k: v.copy() for k, v in back.to_numpy().items()}
    assert list(got) == list(tensors)
    for k, v in tensors.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape
        np.testing.assert_array_equal(got[k], v)


def test_errors_carry_status_and_message():
    with Model.from_numpy({"a": np.zeros(2, np.float32)}, copy=True) as m:
        with pytest.raises(MudscError) as err:
            m.add("a", np.zeros(2, np.float32))
    assert err.value.name == "MUDSC_E_EXISTS"
    assert "'a'" in err.value.message
