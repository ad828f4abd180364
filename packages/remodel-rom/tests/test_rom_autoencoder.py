import numpy as np
import pytest
from remodel_rom import POD, AutoencoderROM


def _pulses(mu, n=64):
    x = np.linspace(0, 1, n)
    return np.exp(-(((x[None, :] - mu[:, None]) / 0.08) ** 2))


def test_autoencoder_beats_linear_pod_of_same_size_on_transport():
    mu = np.linspace(0.2, 0.8, 40)
    S = _pulses(mu)
    rom = AutoencoderROM(latent=2, ae_iters=600, map_iters=60, seed=0).fit(mu[:, None], S)
    assert rom.ae_history_["loss"][-1] < 0.05 * rom.ae_history_["loss"][0]
    test_mu = np.array([0.27, 0.45, 0.63])
    T = _pulses(test_mu)
    ae_err = np.linalg.norm(rom.reconstruct_snapshots(T) - T) / np.linalg.norm(T)
    pod = POD(n_components=2).fit(S)
    pod_err = np.linalg.norm(pod.inverse_transform(pod.transform(T)) - T) / np.linalg.norm(T)
    assert ae_err < 0.5 * pod_err
    pred_err = np.linalg.norm(rom.predict(test_mu[:, None]) - T) / np.linalg.norm(T)
    assert pred_err < pod_err


def test_autoencoder_bad_inputs():
    with pytest.raises(ValueError, match="mu: Expected 2D array"):
        AutoencoderROM().fit(np.ones(3), np.ones((3, 8)))
    with pytest.raises(ValueError, match="snapshots must have shape"):
        AutoencoderROM().fit(np.ones((3, 1)), np.ones((4, 8)))
    # a field length not divisible by 4 is edge-padded for the two stride-2 convolutions and cropped back
    rom = AutoencoderROM(latent=1, ae_iters=1, map_iters=1).fit(np.linspace(0, 1, 4)[:, None], np.ones((4, 10)))
    assert rom.predict(np.array([[0.5]])).shape == (1, 10)
    assert rom.reconstruct_snapshots(np.ones((2, 10))).shape == (2, 10)


def test_autoencoder_reconstruct_checks_fit_and_latent_size():
    """Before: a raw torch 'shapes cannot be multiplied' for a wrong latent size, AttributeError unfitted."""
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        AutoencoderROM().reconstruct(np.zeros(2))
    rom = AutoencoderROM(latent=1, ae_iters=1, map_iters=1).fit(np.linspace(0, 1, 4)[:, None], np.ones((4, 8)))
    with pytest.raises(ValueError, match=r"z must be finite latent coordinates of shape \(1,\)"):
        rom.reconstruct(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="z must"):
        rom.reconstruct(np.array([np.nan]))
    assert rom.reconstruct(np.zeros((2, 1))).shape == (2, 8) and rom.reconstruct(np.zeros(1)).shape == (8,)
