"""Simulator settings beyond schemes: the price level and the provider mix default to the
standard city exactly (tests/test_cli.py checks that the committed city regenerates byte
for byte), and the shifted city of conf/simulate/shifted.yaml differs from it where it
says it does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from fraudml.cli.simulate import simulation_config
from fraudml.config import register
from fraudml.paths import conf_dir
from fraudml.synth import SCHEMES, SchemeConfig, SimulationConfig, simulate
from fraudml.synth.world import PROVIDER_MIX, provider_counts


def _composed(name: str) -> SimulationConfig:
    register()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="simulate", overrides=[f"simulate={name}"])
    return simulation_config(cfg.simulate)


def test_the_standard_city_keeps_the_standard_prices_and_provider_mix():
    # byte for byte: tests/test_cli.py::test_committed_dataset_is_the_small_preset
    for preset in ("small", "city"):
        sim = _composed(preset)
        assert sim.price_level == 1.0 and sim.provider_mix == PROVIDER_MIX
    assert SimulationConfig().price_level == 1.0
    assert SimulationConfig().provider_mix == PROVIDER_MIX
    assert SimulationConfig().provider_mix is not PROVIDER_MIX  # a copy per config


def test_provider_counts_follow_the_mix_with_each_kind_s_minimum():
    standard = {
        ("hospital", 3): 2,
        ("hospital", 2): 3,
        ("hospital", 1): 5,
        ("clinic", 1): 16,
        ("pharmacy", None): 16,
    }
    assert provider_counts(8000) == standard
    assert provider_counts(8000, PROVIDER_MIX) == standard
    # kinds the mix leaves out keep the standard rate; none falls below its minimum
    assert provider_counts(8000, {"pharmacy": 30.0, "hospital_2": 0.0}) == {
        **standard,
        ("hospital", 2): 2,
        ("pharmacy", None): 24,
    }
    assert provider_counts(1000) == {
        ("hospital", 3): 1,
        ("hospital", 2): 2,
        ("hospital", 1): 3,
        ("clinic", 1): 6,
        ("pharmacy", None): 6,
    }
    with pytest.raises(ValueError, match="unknown provider kinds \\['dentist'\\]"):
        provider_counts(8000, {"dentist": 3.0})
    with pytest.raises(ValueError, match="must not be negative"):
        provider_counts(8000, {"clinic": -1.0})


TINY = SimulationConfig(
    seed=3,
    n_patients=800,
    start="2024-01-01",
    end="2024-05-01",
    schemes={name: SchemeConfig(prevalence=0.1, subtlety=0.2) for name in SCHEMES},
)


def test_price_level_scales_the_catalog_and_every_fee_and_nothing_else():
    base = simulate(TINY)
    dear = simulate(SimulationConfig(**{**TINY.__dict__, "price_level": 1.5}))
    cap = base["catalog"].price_cap.to_numpy()
    assert np.allclose(dear["catalog"].price_cap.to_numpy(), cap * 1.5, atol=0.011)
    a, b = base["claim_items"], dear["claim_items"]
    # the same care, fraud and labels: only the prices move
    for column in ("claim_id", "item_code", "quantity", "item_time", "trace_code"):
        pd.testing.assert_series_equal(a[column], b[column])
    pd.testing.assert_frame_equal(base["labels"], dear["labels"])
    assert np.abs(b.unit_price.to_numpy() - 1.5 * a.unit_price.to_numpy()).max() <= 0.013
    # legitimate lines stay within the dearer caps
    fraud = set(dear["labels"].query("entity_type == 'claim'").entity_id)
    legit = b[~b.claim_id.isin(fraud)].merge(dear["catalog"], on="item_code")
    assert (legit.unit_price <= legit.price_cap).all()
    with pytest.raises(ValueError, match="price_level must be positive"):
        simulate(SimulationConfig(**{**TINY.__dict__, "price_level": 0.0}))


def test_provider_mix_changes_the_city_s_providers():
    mix = {"pharmacy": 40.0, "clinic": 80.0}
    city = simulate(SimulationConfig(**{**TINY.__dict__, "provider_mix": mix}))
    providers = city["providers"]
    counts = providers.groupby("provider_type").size().to_dict()
    # 800 people: 3 and 6 at least, plus the specialist pharmacy and the children's hospital
    assert counts == {"clinic": 6, "pharmacy": 7, "hospital": 1 + 2 + 3 + 1}
    more = simulate(SimulationConfig(**{**TINY.__dict__, "n_patients": 2000, "provider_mix": mix}))
    counts = more["providers"].groupby("provider_type").size().to_dict()
    assert counts == {"clinic": 16, "pharmacy": 9, "hospital": 1 + 2 + 3 + 1}


def test_the_shifted_city_differs_from_the_standard_one_in_every_setting_it_names():
    small, shifted = _composed("small"), _composed("shifted")
    assert shifted.seed != small.seed and shifted.start[:4] != small.start[:4]
    assert shifted.price_level != 1.0
    assert shifted.provider_mix.keys() == PROVIDER_MIX.keys()
    assert all(shifted.provider_mix[k] != v for k, v in PROVIDER_MIX.items())
    assert shifted.schemes.keys() == small.schemes.keys() == SCHEMES.keys()
    for name, scheme in shifted.schemes.items():
        before = small.schemes[name]
        assert scheme.prevalence != before.prevalence, name
        assert scheme.subtlety != before.subtlety, name
        assert scheme.start is not None and shifted.start <= scheme.start < shifted.end, name
