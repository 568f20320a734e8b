"""Evaluation by translation orbits: orbit representatives and the test metrics of invariant models."""

import numpy as np
import pytest

from nqs_dilated.data import make_datasets, orbit_representatives
from nqs_dilated.ed.bits import configs_to_codes
from nqs_dilated.ed.ground import ground_state
from nqs_dilated.models import make_model
from nqs_dilated.training.sign import train_sign


def _moved(configs, perm):
    out = np.empty_like(configs)
    out[:, perm] = configs  # the spin on site i goes to site perm[i]
    return out


@pytest.mark.parametrize("which", ["translations", "perms"])
def test_orbits_of_the_sz0_space_count_as_burnside_says(cluster_4x4, group_4x4, which):
    perms = getattr(group_4x4, which)
    configs, _ = ground_state(cluster_4x4, 0.5).enumerate()
    index, inverse = orbit_representatives(configs, perms, chunk=1000)  # several chunks
    # Burnside: number of orbits = mean number of configurations each element fixes
    fixed = [np.sum(np.all(_moved(configs, p) == configs, axis=1)) for p in perms]
    assert len(index) == sum(fixed) / len(perms)
    # each configuration is an image of its representative
    reps = configs[index][inverse][:2000]
    images = np.stack([configs_to_codes(_moved(reps, p)) for p in perms])
    assert np.all(np.any(images == configs_to_codes(configs[:2000])[None], axis=0))
    assert np.array_equal(inverse[index], np.arange(len(index)))
    with pytest.raises(ValueError, match="perms must have shape"):
        orbit_representatives(configs, perms[:, :4])


def test_invariant_cnn_test_metrics_by_orbits_equal_the_full_evaluation(cluster_4x4, group_4x4):
    state = ground_state(cluster_4x4, 1.0)
    datasets = make_datasets(state, group_4x4, eps=0.05, seed=0)
    model = make_model("dilated", cluster_4x4, channels=(4, 4), dilations=(1, 2))
    kw = dict(epochs=3, batch_size=64, lr=3e-3, seed=0, progress=False)
    full = train_sign(model, datasets, **kw)
    orbits = train_sign(model, datasets, invariant_perms=group_4x4.translations, orbit_min_size=1, **kw)
    for split, metrics in full.metrics.items():
        for name in ("accuracy", "weighted_accuracy", "overlap"):
            assert orbits.metrics[split][name] == metrics[name], (split, name)
        assert orbits.metrics[split]["loss"] == pytest.approx(metrics["loss"], rel=1e-6)
    assert [r["val_loss"] for r in orbits.history] == [r["val_loss"] for r in full.history]
    assert orbits.orbit_splits == list(full.metrics) and full.orbit_splits == []
